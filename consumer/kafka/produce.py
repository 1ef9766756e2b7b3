"""Handing one record to librdkafka: the one produce call of the loop and of the tools."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

from consumer.records import OutboundRecord

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class QueueFullError(BufferError):
    """librdkafka's local queue stayed full until the deadline (a broker away never drains it)."""


def produce_record(
    producer: Producer,
    record: OutboundRecord,
    on_delivery: DeliveryCallback | None = None,
    deadline: float | None = None,
) -> None:
    """Produce one record, serving delivery reports while the local queue is full; with a
    `deadline` (time.monotonic()), raise `QueueFullError` once it has passed. A refusal by the
    client (too large, an invalid argument) raises KafkaException, as produce() does."""
    # -1 (RD_KAFKA_PARTITION_UA): the partitioner chooses, by key.
    partition = -1 if record.partition is None else record.partition
    while True:
        try:
            producer.produce(
                record.topic,
                value=record.value,
                key=record.key,
                headers=record.headers,
                partition=partition,
                timestamp=record.timestamp_ms or 0,  # 0: librdkafka stamps the current time
                on_delivery=on_delivery,
            )
            return
        except BufferError:
            if deadline is not None and time.monotonic() >= deadline:
                raise QueueFullError("librdkafka's queue stayed full until the deadline") from None
            producer.poll(0.05)
