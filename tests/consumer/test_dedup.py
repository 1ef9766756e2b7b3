"""Upstream duplicates: the verdict on an id seen before, and the changelog's record forms."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.kafka.changelog import KafkaChangelog
from consumer.pipeline.dedup import (
    Seen,
    changelog_batch_key,
    changelog_batch_value,
    changelog_entries,
    verdict,
)
from consumer.state.errors import ChangelogError
from consumer.state.hashing import UNKNOWN_CONTENT_HASH, content_hash
from consumer.state.scored_id import UNKNOWN_INPUT_OFFSET, ScoredId

FIRST = ScoredId(1_000.0, content_hash(b"income 150"), 42)


def test_an_id_never_scored_is_new() -> None:
    assert verdict(None, content_hash(b"anything")) is Seen.NEW


def test_the_same_id_with_the_same_content_is_a_duplicate() -> None:
    assert verdict(FIRST, content_hash(b"income 150")) is Seen.DUPLICATE


def test_the_same_id_with_other_content_is_a_conflict() -> None:
    assert verdict(FIRST, content_hash(b"income 40")) is Seen.CONFLICTING


def test_an_id_restored_without_a_hash_counts_as_a_duplicate_as_it_did() -> None:
    unknown = ScoredId(1_000.0, UNKNOWN_CONTENT_HASH, UNKNOWN_INPUT_OFFSET)
    assert verdict(unknown, content_hash(b"income 40")) is Seen.DUPLICATE


def test_a_v2_record_round_trips_hash_time_and_offset() -> None:
    entries = [("e-1", FIRST), ("e-2", ScoredId(1_000.5, content_hash(b"x"), 43))]
    value = changelog_batch_value(entries)
    assert value.startswith(b'{"v":2')
    assert changelog_entries(changelog_batch_key(3, 42), value, timestamp_s=5.0) == entries
    assert changelog_batch_key(3, 42) == b"3@42"


def test_the_older_record_forms_are_read_as_ids_of_unknown_content() -> None:
    unknown = ScoredId(7.0, UNKNOWN_CONTENT_HASH, UNKNOWN_INPUT_OFFSET)
    batch = b'{"event_ids":["e-1","e-2"]}'
    assert changelog_entries(b"3@120", batch, 7.0) == [("e-1", unknown), ("e-2", unknown)]
    one = b'{"application_id":"app-1"}'  # one record per event, key = event_id
    assert changelog_entries(b"e-9", one, 7.0) == [("e-9", unknown)]
    assert changelog_entries(None, one, 7.0) == []


def test_a_batch_record_is_never_a_tombstone() -> None:
    assert changelog_batch_value([]) == b'{"v":2,"ids":[]}'


class _RestoreConsumer:
    """A restore consumer that either never gets an answer (stuck) or finds nothing recent."""

    def __init__(self, stuck: bool) -> None:
        self.stuck = stuck
        self.closed = False

    def offsets_for_times(self, partitions: list[TopicPartition], timeout: float) -> object:
        if self.stuck:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Failed to get offsets"))
        return [TopicPartition(tp.topic, tp.partition, -1) for tp in partitions]

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float) -> tuple[int, int]:
        return (0, 17)

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def unassign(self) -> None:
        pass

    def poll(self, timeout: float) -> None:
        return None  # a broker away: nothing ever arrives

    def close(self) -> None:
        self.closed = True


def _changelog(made: list[_RestoreConsumer], timeout_s: float = 0.3) -> KafkaChangelog:
    def new_consumer(_config: dict[str, object]) -> _RestoreConsumer:
        made.append(_RestoreConsumer(stuck=not made))  # only the first one is stuck
        return made[-1]

    changelog = KafkaChangelog(
        {"bootstrap.servers": "127.0.0.1:1"},  # nothing listens; the admin client is never used
        "scored-ids",
        input_topic="in",
        window_s=60,
        timeout_s=timeout_s,
        new_consumer=new_consumer,  # type: ignore[arg-type]
    )
    changelog._ensured = True  # the topic exists; these tests are about reading it
    return changelog


def test_nothing_as_recent_as_the_window_starts_a_cold_restore_at_the_end() -> None:
    made: list[_RestoreConsumer] = []
    changelog = _changelog(made)
    made[0].stuck = False
    assert changelog.start_offset(0, since_epoch_s=0) == 17


def test_a_read_that_hears_nothing_fails_and_replaces_its_consumer() -> None:
    """After a broker restart right after the changelog was created, every read of the same
    client failed for minutes (nothing scored): a failed client is not asked again."""
    made: list[_RestoreConsumer] = []
    changelog = _changelog(made, timeout_s=0.6)
    with pytest.raises(ChangelogError, match="nothing read"):
        list(changelog.read(0, 0))
    assert len(made) == 2
    assert made[0].closed


def test_offsets_the_broker_cannot_give_are_a_changelog_error() -> None:
    made: list[_RestoreConsumer] = []
    changelog = _changelog(made)
    with pytest.raises(ChangelogError, match="Failed to get offsets"):
        changelog.start_offset(0, since_epoch_s=0)


class _UnansweringAdmin:
    def list_topics(self, *, timeout: float) -> object:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker blip"))


def test_a_cluster_that_does_not_answer_is_a_changelog_error_not_a_crash() -> None:
    """`list_topics` raised KafkaException uncaught: a blip on the first batch ended the process
    with a traceback; a ChangelogError reads the batch again later."""
    from consumer.kafka.changelog import ensure_changelog

    with pytest.raises(ChangelogError, match="broker blip"):
        ensure_changelog(_UnansweringAdmin(), "in", "scored-ids", 60)  # type: ignore[arg-type]
