"""At-least-once delivery on fakes: offsets move only after every output is delivered, and the
scored ids reach the changelog only once their scores did (issue 22: otherwise a score that failed
while its id landed would be skipped as a duplicate when the batch is read again, and lost)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from confluent_kafka import KafkaError, TopicPartition

from consumer.config.settings import Settings
from consumer.delivery.at_least_once import AtLeastOnceDelivery
from consumer.delivery.batch_writer import BatchWriter
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.records import BatchOutcome, OutboundRecord
from consumer.runtime.service import new_metrics
from consumer.telemetry.readiness import Readiness
from tests.consumer.test_pipeline import FakeMessage


@dataclass
class _Delivered:
    topic: str
    part: int
    off: int

    def partition(self) -> int:
        return self.part

    def offset(self) -> int:
        return self.off


@dataclass
class FakeProducer:
    """Records what is produced, in order; `flush` reports each delivery, failing the topics in
    `failing`."""

    failing: set[str] = field(default_factory=set)
    produced: list[str] = field(default_factory=list)
    _pending: list[tuple[str, int, Callable[[KafkaError | None, object], None]]] = field(
        default_factory=list
    )

    def produce(self, topic: str, **kwargs: object) -> None:
        self.produced.append(topic)
        partition = kwargs.get("partition")
        callback = kwargs["on_delivery"]
        assert callable(callback)
        self._pending.append((topic, partition if isinstance(partition, int) else 0, callback))

    def flush(self, timeout: float) -> int:
        for offset, (topic, partition, callback) in enumerate(self._pending):
            error = KafkaError(KafkaError._MSG_TIMED_OUT) if topic in self.failing else None
            callback(error, _Delivered(topic, partition, 100 + offset))
        self._pending.clear()
        return 0

    def poll(self, timeout: float) -> int:
        return 0

    def list_topics(self, *, timeout: float) -> object:
        """Every topic is there: a failed batch's diagnosis finds nothing to add."""

        return SimpleNamespace(
            topics={
                topic: SimpleNamespace(error=None, partitions={0: None})
                for topic in ("out", "ids", "dlq")
            }
        )


@dataclass
class FakeConsumer:
    seeks: list[TopicPartition] = field(default_factory=list)
    stored: list[TopicPartition] = field(default_factory=list)

    def seek(self, partition: TopicPartition) -> None:
        self.seeks.append(partition)

    def store_offsets(self, *, offsets: list[TopicPartition]) -> None:
        self.stored.extend(offsets)


def _delivery(producer: FakeProducer, consumer: FakeConsumer) -> AtLeastOnceDelivery:
    settings = Settings.model_validate({"delivery": "at-least-once", "kafka_timeout_s": 1})
    metrics = new_metrics()
    tracker = PartitionTracker()
    tracker.assign([("loan-applications", 2)])
    delivery = AtLeastOnceDelivery(
        settings, metrics, Readiness(), tracker, on_client_error=lambda _e: None
    )
    delivery._producer = producer  # type: ignore[assignment]
    delivery._writer = BatchWriter(producer, dlq_topic="dlq", metrics=metrics)  # type: ignore[arg-type]
    delivery.attach(consumer)  # type: ignore[arg-type]
    return delivery


def _batch() -> tuple[list[FakeMessage], BatchOutcome]:
    messages = [FakeMessage(b"{}", off=10), FakeMessage(b"{}", off=11)]
    outcome = BatchOutcome(
        records=[OutboundRecord(topic="out", key=b"a", value=b"{}") for _ in messages],
        changelog=[OutboundRecord(topic="ids", key=b"2@10", value=b"{}", partition=2)],
    )
    return messages, outcome


def test_the_ids_follow_the_scores_only_once_they_are_delivered() -> None:
    producer, consumer = FakeProducer(), FakeConsumer()
    delivery = _delivery(producer, consumer)
    messages, outcome = _batch()

    assert delivery.publish(messages, outcome)  # type: ignore[arg-type]

    assert producer.produced == ["out", "out", "ids"]
    assert consumer.stored == [TopicPartition("loan-applications", 2, 12)]


def test_a_score_not_delivered_writes_no_id_and_reads_the_batch_again() -> None:
    producer, consumer = FakeProducer(failing={"out"}), FakeConsumer()
    delivery = _delivery(producer, consumer)
    messages, outcome = _batch()

    assert not delivery.publish(messages, outcome)  # type: ignore[arg-type]

    assert "ids" not in producer.produced  # the re-read batch will not find its ids scored
    assert consumer.stored == []
    assert consumer.seeks == [TopicPartition("loan-applications", 2, 10)]


def test_an_id_not_delivered_reads_the_batch_again_too() -> None:
    producer, consumer = FakeProducer(failing={"ids"}), FakeConsumer()
    delivery = _delivery(producer, consumer)
    messages, outcome = _batch()

    assert not delivery.publish(messages, outcome)  # type: ignore[arg-type]
    assert consumer.stored == []  # the scores go out again: the at-least-once cost
