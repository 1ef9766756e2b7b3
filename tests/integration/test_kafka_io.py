"""The tests' reader reads to the end offsets the broker states: everything there, loudly short
when fewer than expected come, and never past an open transaction under read_committed."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from tests.conftest import TopicFactory
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration


def test_every_record_up_to_the_end_offsets_is_read_beyond_the_expected_count(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str
) -> None:
    topic = create_topic("reader.all", partitions=3)
    produce(kafka_bootstrap, topic, ((f"k{i}".encode(), b"v") for i in range(30)))

    records = consume(kafka_bootstrap, topic, expected=5, group_id=group_id, settle_s=0)

    assert sorted(r.key or b"" for r in records) == sorted(f"k{i}".encode() for i in range(30))


def test_fewer_records_than_expected_fail_loudly_at_the_deadline(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str
) -> None:
    topic = create_topic("reader.short")
    produce(kafka_bootstrap, topic, [(b"k", b"v")])

    with pytest.raises(AssertionError, match="1 records, expected 2"):
        consume(kafka_bootstrap, topic, expected=2, group_id=group_id, timeout_s=3)


def test_read_committed_stops_at_the_last_stable_offset(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str
) -> None:
    topic = create_topic("reader.lso")
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": topic})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"committed", value=b"v")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"open", value=b"v")
    producer.flush(30)
    try:
        committed = consume(kafka_bootstrap, topic, expected=1, group_id=group_id, timeout_s=30)
        everything = consume(
            kafka_bootstrap,
            topic,
            expected=2,
            group_id=group_id,
            timeout_s=30,
            isolation="read_uncommitted",
        )
    finally:
        producer.abort_transaction(30)

    assert [r.key for r in committed] == [b"committed"]
    assert [r.key for r in everything] == [b"committed", b"open"]
