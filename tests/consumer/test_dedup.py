"""Which events count as upstream duplicates, and when memory is rebuilt from the changelog."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.kafka.changelog import KafkaChangelogReader
from consumer.pipeline.dedup import (
    ChangelogError,
    SeenEvents,
    changelog_batch_key,
    changelog_batch_value,
    changelog_ids,
    changelog_value,
)


class FakeChangelog:
    """What the changelog holds per partition, and how often it was read."""

    def __init__(self, committed: dict[int, dict[str, float]] | None = None) -> None:
        self.committed = committed or {}
        self.reads: list[tuple[int, float]] = []

    def read(self, partition: int, since_epoch_s: float) -> dict[str, float]:
        self.reads.append((partition, since_epoch_s))
        return {k: t for k, t in self.committed.get(partition, {}).items() if t >= since_epoch_s}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def first_time(seen: SeenEvents, partition: int, event_id: str) -> bool:
    """What the pipeline does for a scored event: check, then remember."""
    if seen.seen(partition, event_id):
        return False
    seen.remember(partition, event_id)
    return True


def test_an_id_is_new_once_then_a_duplicate_within_the_window() -> None:
    clock = Clock()
    seen = SeenEvents(FakeChangelog(), window_s=60, clock=clock)
    seen.prepare([(0, 0), (0, 1)])
    assert not seen.seen(0, "a")
    seen.remember(0, "a")
    assert seen.seen(0, "a")  # twice in one batch
    seen.prepare([(0, 2)])
    assert seen.seen(0, "a")  # in the next batch
    clock.now += 61
    seen.prepare([(0, 3)])
    assert not seen.seen(0, "a")  # outside the window: scored again


def test_memory_holds_the_window_and_at_most_a_tenth_more() -> None:
    clock = Clock()
    seen = SeenEvents(FakeChangelog(), window_s=100, clock=clock)
    seen.prepare([(0, 0)])
    for second in range(1_000):  # one id a second for ten windows
        clock.now += 1
        seen.remember(0, f"id-{second}")
        assert seen.ids_held <= 111  # 100 in the window, 10 s past it, the one just added
    assert seen.ids_held >= 100  # nothing inside the window is forgotten
    assert seen.seen(0, "id-999")
    assert seen.seen(0, "id-900")
    assert not seen.seen(0, "id-850")


def test_ids_committed_before_a_restart_or_by_another_member_are_duplicates() -> None:
    clock = Clock()
    changelog = FakeChangelog({0: {"old": clock.now - 10, "ancient": clock.now - 1_000}})
    seen = SeenEvents(changelog, window_s=60, clock=clock)
    seen.prepare([(0, 500)])
    assert changelog.reads == [(0, clock.now - 60)]
    assert not first_time(seen, 0, "old")
    assert first_time(seen, 0, "ancient")


def test_partitions_are_separate() -> None:
    seen = SeenEvents(FakeChangelog(), window_s=60, clock=Clock())
    seen.prepare([(0, 0), (1, 0)])
    assert first_time(seen, 0, "a")
    assert first_time(seen, 1, "a")


def test_memory_is_rebuilt_after_a_rewind_so_an_aborted_batch_is_forgotten() -> None:
    changelog = FakeChangelog()
    seen = SeenEvents(changelog, window_s=60, clock=Clock())
    seen.prepare([(0, 10), (0, 11)])
    assert first_time(seen, 0, "aborted")  # this batch's transaction is then aborted
    seen.prepare([(0, 10), (0, 11)])  # the loop rewound to 10: not the expected 12
    assert len(changelog.reads) == 2
    assert first_time(seen, 0, "aborted")  # scored again, once


def test_consecutive_batches_do_not_reread_the_changelog() -> None:
    changelog = FakeChangelog()
    seen = SeenEvents(changelog, window_s=60, clock=Clock())
    for start in range(0, 30, 3):
        seen.prepare([(0, start), (0, start + 1), (0, start + 2)])
    assert len(changelog.reads) == 1


def test_a_partition_that_comes_back_after_another_member_had_it_is_restored() -> None:
    changelog = FakeChangelog()
    seen = SeenEvents(changelog, window_s=60, clock=Clock())
    seen.prepare([(3, 0), (3, 1)])
    # Revoked; another member scored offsets 2..9; assigned back at 10.
    seen.prepare([(3, 10)])
    assert len(changelog.reads) == 2


def test_by_default_the_window_is_measured_in_epoch_seconds_like_the_changelog_times() -> None:
    """The changelog's times are record timestamps (epoch): a monotonic clock would ask it
    for ids since some moment near 1970 and keep every one for ever."""
    changelog = FakeChangelog({0: {"stale": time.time() - 120, "fresh": time.time() - 10}})
    seen = SeenEvents(changelog, window_s=60)
    before = time.time()
    seen.prepare([(0, 5)])
    ((_partition, since),) = changelog.reads
    assert before - 60 <= since <= time.time() - 60
    assert seen.seen(0, "fresh")
    assert not seen.seen(0, "stale")


def test_the_changelog_value_is_never_a_tombstone() -> None:
    assert changelog_value("app-1") == b'{"application_id":"app-1"}'


def test_a_batch_record_holds_its_ids_and_an_old_per_event_record_its_key() -> None:
    batch = changelog_batch_value(["e-1", "e-2"])
    assert changelog_ids(changelog_batch_key(3, 120), batch) == ["e-1", "e-2"]
    assert changelog_batch_key(3, 120) == b"3@120"
    assert changelog_ids(b"e-9", changelog_value("app-1")) == ["e-9"]  # written before 0.x
    assert changelog_ids(None, changelog_value("app-1")) == []


def test_a_batch_record_is_never_a_tombstone() -> None:
    assert changelog_batch_value([]) == b'{"event_ids":[]}'


class _RestoreConsumer:
    """A restore consumer that either never gets an answer (stuck) or finds nothing recent."""

    def __init__(self, stuck: bool) -> None:
        self.stuck = stuck
        self.closed = False

    def offsets_for_times(self, partitions: list[TopicPartition], timeout: float) -> object:
        if self.stuck:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Failed to get offsets"))
        return [TopicPartition(tp.topic, tp.partition, -1) for tp in partitions]

    def close(self) -> None:
        self.closed = True


def test_a_failed_changelog_read_replaces_its_consumer_so_the_next_read_can_succeed() -> None:
    """After a broker restart right after the changelog was created, every read of the same
    client failed for minutes (nothing scored): a failed client is not asked again."""
    made: list[_RestoreConsumer] = []

    def new_consumer(_config: dict[str, object]) -> _RestoreConsumer:
        made.append(_RestoreConsumer(stuck=not made))  # only the first one is stuck
        return made[-1]

    reader = KafkaChangelogReader(
        {"bootstrap.servers": "127.0.0.1:1"},  # nothing listens; the admin client is never used
        "scored-ids",
        input_topic="in",
        window_s=60,
        timeout_s=0.3,
        new_consumer=new_consumer,  # type: ignore[arg-type]
    )
    reader._ensured = True  # the topic exists; this test is about reading it
    with pytest.raises(ChangelogError, match="Failed to get offsets"):
        reader.read(0, since_epoch_s=0)
    assert reader.read(0, since_epoch_s=0) == {}
    assert len(made) == 2
    assert made[0].closed
