"""Where `loan-scorer rescore` reads a book from: the bundled data set, or a topic to its end.

Reading a topic is by assignment under a throwaway group id, so no consumer group's offsets move.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from consumer.kafka.config import KafkaConfig
from consumer.kafka.topics import topic_metadata, topic_problem
from consumer.records import InboundMessage
from consumer.tools.rescore import DATASET_SOURCE_NAME, RescoreError
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.encode import encode_application

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """An application of the data set as the pipeline reads a consumed record."""

    raw: bytes
    application_id: str
    position: int

    def key(self) -> bytes:
        return self.application_id.encode()

    def value(self) -> bytes:
        return self.raw

    def topic(self) -> str:
        return DATASET_SOURCE_NAME

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.position

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)  # no timestamp: a dead letter is stamped when written

    def headers(self) -> None:
        return None


class DatasetSource:
    """The bundled data set's applications, each encoded as the v1 event upstream would send."""

    def __init__(self, applications: Sequence[LoanApplicationSubmitted], batch_size: int) -> None:
        self.name = DATASET_SOURCE_NAME
        self.total = len(applications)
        self._applications = applications
        self._batch_size = batch_size

    def batches(self) -> Iterator[tuple[Sequence[InboundMessage], int]]:
        for start in range(0, self.total, self._batch_size):
            chunk = self._applications[start : start + self._batch_size]
            yield (
                [
                    DatasetRecord(encode_application(app), app.application_id, start + i)
                    for i, app in enumerate(chunk)
                ],
                len(chunk),
            )


class TopicSource:
    """Every committed record of a topic from its beginning to its end as it was at the start
    (read_committed stops earlier at an open transaction; the job never waits for one).

    The progress total is in offsets (transaction markers take offsets too), so the bar ends
    exactly at the end; the counts are in records.
    """

    def __init__(
        self, config: KafkaConfig, topic: str, batch_size: int, timeout_s: float = 30.0
    ) -> None:
        self.name = topic
        self._batch_size = batch_size
        self._consumer = Consumer(
            {
                **config,
                "group.id": f"loan-scorer-rescore-{uuid.uuid4().hex[:12]}",  # throwaway, unused
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        metadata = topic_metadata(self._consumer, topic, timeout_s)
        if metadata is None or topic_problem(metadata, topic) is not None:
            self._consumer.close()
            raise RescoreError(f"topic {topic} does not exist or has no partitions")
        self._ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition in sorted(metadata.partitions):
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
            )
            if high > low:
                self._ends[partition] = high
                starts.append(TopicPartition(topic, partition, low))
        self._next = {tp.partition: tp.offset for tp in starts}
        self.total = sum(self._ends[p] - self._next[p] for p in self._ends)
        self._starts = starts

    def batches(self) -> Iterator[tuple[Sequence[InboundMessage], int]]:
        consumer = self._consumer
        pending = set(self._ends)
        try:
            if self._starts:
                consumer.assign(self._starts)
            while pending:
                batch: list[Message] = []
                advanced = 0
                for message in consumer.consume(self._batch_size, timeout=0.5):
                    partition = int(message.partition() or 0)
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            advanced += self._advance(partition, int(message.offset() or 0))
                            pending.discard(partition)
                        elif error.fatal():
                            raise RescoreError(f"fatal consumer error: {error.str()}")
                        else:
                            logger.warning("consumer error", extra={"kafka_error": error.name()})
                        continue
                    if partition not in pending:
                        continue  # past the end this job reads to
                    batch.append(message)
                    advanced += self._advance(partition, int(message.offset() or 0) + 1)
                    if self._next[partition] >= self._ends[partition]:
                        pending.discard(partition)
                if batch or advanced:
                    yield batch, advanced
        finally:
            consumer.close()

    def _advance(self, partition: int, offset: int) -> int:
        """Move the partition's position to `offset` (capped at its end); return the step."""
        target = min(max(offset, self._next[partition]), self._ends[partition])
        step = target - self._next[partition]
        self._next[partition] = target
        return step
