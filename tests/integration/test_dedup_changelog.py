"""The changelog of scored event ids on the real broker: created like its input, read back with
read_committed, so an aborted transaction's ids are never remembered."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from consumer.kafka.changelog import KafkaChangelogReader, ensure_changelog
from consumer.pipeline.dedup import (
    ChangelogError,
    changelog_batch_key,
    changelog_batch_value,
    changelog_value,
)
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
        producer.produce(topic, key=event_id, value=changelog_value("app"), partition=partition)
    if ids[half:]:
        producer.produce(
            topic,
            key=changelog_batch_key(partition, 0),
            value=changelog_batch_value(ids[half:]),
            partition=partition,
        )
    producer.flush(30)
    if commit:
        producer.commit_transaction(30)
    else:
        producer.abort_transaction(30)


def test_only_committed_ids_come_back_and_only_for_their_partition(
    kafka_bootstrap: str, kafka_admin: AdminClient, create_topic: TopicFactory
) -> None:
    input_topic = create_topic("in", partitions=3)
    changelog = f"{input_topic}.scored-ids"
    reader = KafkaChangelogReader(
        {"bootstrap.servers": kafka_bootstrap}, changelog, input_topic=input_topic, window_s=3600
    )
    try:
        assert reader.read(1, time.time() - 3600) == {}  # creates the topic, empty
        topics = kafka_admin.list_topics(timeout=30).topics
        assert len(topics[changelog].partitions) == 3
        _write(kafka_bootstrap, changelog, 1, ["kept-1", "kept-2", "kept-3"], commit=True)
        _write(kafka_bootstrap, changelog, 1, ["aborted"], commit=False)
        _write(kafka_bootstrap, changelog, 2, ["other-partition"], commit=True)
        restored = reader.read(1, time.time() - 3600)
        assert set(restored) == {"kept-1", "kept-2", "kept-3"}
        assert all(abs(at - time.time()) < 120 for at in restored.values())
        assert reader.read(1, time.time() + 3600) == {}  # nothing that recent
    finally:
        reader.close()
        kafka_admin.delete_topics([changelog])


def test_a_changelog_with_another_partition_count_is_refused(
    kafka_admin: AdminClient, create_topic: TopicFactory
) -> None:
    input_topic = create_topic("in", partitions=3)
    wrong = create_topic("changelog", partitions=2)
    with pytest.raises(ChangelogError, match="must match"):
        ensure_changelog(kafka_admin, input_topic, wrong, window_s=60)
