"""The test harness itself: the broker under test really supports Kafka transactions.

Everything loan-scorer promises about exactly-once rests on this; if the local broker were
misconfigured (for example a transaction-state topic asking for more replicas than one node has),
`init_transactions` would time out and this test would fail first, with the reason.
"""

from __future__ import annotations

from collections import Counter

import pytest
from confluent_kafka import Producer

from tests.conftest import TopicFactory
from tests.kafka_io import consume

pytestmark = pytest.mark.integration

COMMITTED = 1_000
ABORTED = 100


def test_only_committed_transactions_are_visible_to_read_committed_readers(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str
) -> None:
    topic = create_topic("harness.tx", partitions=3)
    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "transactional.id": f"harness-{topic}",
            "transaction.timeout.ms": 10_000,
        }
    )
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(COMMITTED):
        producer.produce(topic, key=f"k{i % 17}".encode(), value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    producer.begin_transaction()
    for i in range(ABORTED):
        producer.produce(topic, key=f"k{i % 17}".encode(), value=f"aborted-{i}".encode())
    producer.flush(30)  # the aborted records really reach the log before the abort marker
    producer.abort_transaction(30)

    records = consume(kafka_bootstrap, topic, expected=COMMITTED, group_id=group_id)

    values = Counter(r.value for r in records)
    assert len(records) == COMMITTED
    assert set(values) == {f"committed-{i}".encode() for i in range(COMMITTED)}
    assert max(values.values()) == 1, "a committed record arrived twice"
    assert not any(v is not None and v.startswith(b"aborted-") for v in values)


def test_read_uncommitted_reader_sees_the_aborted_records_too(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str
) -> None:
    """Proves the abort really wrote records: read_committed is what hides them, not luck."""
    topic = create_topic("harness.tx-uncommitted")
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "transactional.id": f"harness-{topic}"}
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(10):
        producer.produce(topic, value=f"aborted-{i}".encode())
    producer.flush(30)
    producer.abort_transaction(30)

    records = consume(
        kafka_bootstrap, topic, expected=10, group_id=group_id, isolation="read_uncommitted"
    )

    expected = sorted(f"aborted-{i}".encode() for i in range(10))
    assert sorted(r.value for r in records if r.value) == expected
