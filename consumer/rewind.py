"""Seeking the consumer back so an aborted or undelivered batch is read again.

A rewind that fails is fatal (as in librdkafka's transactions.c): reading on would let the next
batch's offsets move past records that were never written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from consumer.kafka_errors import RewindFailedError
from consumer.offsets import Position, batch_start_offsets

FaultInjector = Callable[[str], None]


def rewind(
    consumer: Consumer,
    messages: Sequence[Message],
    assigned: Collection[Position],
    fault_injector: FaultInjector | None = None,
) -> None:
    """Seek each still-assigned partition of the batch back to its first offset (a revoked one
    is resumed by its new owner from the committed offset)."""
    for position in batch_start_offsets(messages):
        if (position.topic, position.partition) in assigned:
            seek(consumer, position, fault_injector)


def seek(
    consumer: Consumer, position: TopicPartition, fault_injector: FaultInjector | None = None
) -> None:
    try:
        if fault_injector is not None:
            fault_injector("rewind")
        consumer.seek(position)
    except KafkaException as exc:
        raise RewindFailedError(
            position.topic, position.partition, position.offset, str(exc)
        ) from exc
