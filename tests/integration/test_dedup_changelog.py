"""The changelog of scored event ids on the real broker: created like its input, read back with
read_committed, so an aborted transaction's ids are never remembered."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from consumer.kafka.changelog import KafkaChangelog, ensure_changelog
from consumer.pipeline.dedup import changelog_batch_key, changelog_batch_value
from consumer.state.errors import ChangelogError
from consumer.state.hashing import content_hash
from consumer.state.scored_id import ScoredId
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration


def _write(bootstrap: str, topic: str, partition: int, ids: list[str], *, commit: bool) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"changelog-test-{uuid.uuid4()}"}
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    # Half in the per-event form written before, half in one batch record, as a topic written
    # across the upgrade holds them.
    half = len(ids) // 2
    for event_id in ids[:half]:
        producer.produce(
            topic, key=event_id, value=b'{"application_id":"app"}', partition=partition
        )
    if ids[half:]:
        now = time.time()
        producer.produce(
            topic,
            key=changelog_batch_key(partition, 0),
            value=changelog_batch_value(
                (event_id, ScoredId(now, content_hash(event_id.encode()), i))
                for i, event_id in enumerate(ids[half:])
            ),
            partition=partition,
        )
    producer.flush(30)
    if commit:
        producer.commit_transaction(30)
    else:
        producer.abort_transaction(30)


def _restore(changelog: KafkaChangelog, partition: int, start: int) -> dict[str, ScoredId]:
    restored: dict[str, ScoredId] = {}
    for entries, _next in changelog.read(partition, start):
        restored.update(entries)
    return restored


def test_only_committed_ids_come_back_and_only_for_their_partition(
    kafka_bootstrap: str, kafka_admin: AdminClient, create_topic: TopicFactory
) -> None:
    input_topic = create_topic("in", partitions=3)
    topic = f"{input_topic}.scored-ids"
    changelog = KafkaChangelog(
        {"bootstrap.servers": kafka_bootstrap}, topic, input_topic=input_topic, window_s=3600
    )
    try:
        assert changelog.end_offset(1) == 0  # creates the topic, empty
        topics = kafka_admin.list_topics(timeout=30).topics
        assert len(topics[topic].partitions) == 3
        _write(kafka_bootstrap, topic, 1, ["kept-1", "kept-2", "kept-3"], commit=True)
        _write(kafka_bootstrap, topic, 1, ["aborted"], commit=False)
        _write(kafka_bootstrap, topic, 2, ["other-partition"], commit=True)
        start = changelog.start_offset(1, time.time() - 3600)
        restored = _restore(changelog, 1, start)
        assert set(restored) == {"kept-1", "kept-2", "kept-3"}
        assert all(abs(s.scored_at_s - time.time()) < 120 for s in restored.values())
        assert not restored["kept-1"].content_known  # the older per-event form
        assert restored["kept-3"].content_hash == content_hash(b"kept-3")  # the v2 form
        # Nothing that recent: a cold restore starts at the end and reads nothing.
        end = changelog.end_offset(1)
        assert changelog.start_offset(1, time.time() + 3600) == end
        assert _restore(changelog, 1, end) == {}
    finally:
        changelog.close()
        kafka_admin.delete_topics([topic])


def test_a_restore_ends_at_the_offset_after_the_last_record_and_its_marker(
    kafka_bootstrap: str, kafka_admin: AdminClient, create_topic: TopicFactory
) -> None:
    """The offset a restore reaches is where the next one starts: past the commit marker, so a
    restart reads nothing twice and misses nothing."""
    input_topic = create_topic("in", partitions=1)
    topic = f"{input_topic}.scored-ids"
    changelog = KafkaChangelog(
        {"bootstrap.servers": kafka_bootstrap}, topic, input_topic=input_topic, window_s=3600
    )
    try:
        changelog.end_offset(0)
        _write(kafka_bootstrap, topic, 0, ["a-1", "a-2"], commit=True)
        chunks = list(changelog.read(0, 0))
        reached = chunks[-1][1]
        assert reached == changelog.end_offset(0)
        _write(kafka_bootstrap, topic, 0, ["b-1", "b-2"], commit=True)
        assert set(_restore(changelog, 0, reached)) == {"b-1", "b-2"}
    finally:
        changelog.close()
        kafka_admin.delete_topics([topic])


def test_a_changelog_with_another_partition_count_is_refused(
    kafka_admin: AdminClient, create_topic: TopicFactory
) -> None:
    input_topic = create_topic("in", partitions=3)
    wrong = create_topic("changelog", partitions=2)
    with pytest.raises(ChangelogError, match="must match"):
        ensure_changelog(kafka_admin, input_topic, wrong, window_s=60)
