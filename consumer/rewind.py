"""Seeking the consumer back so an aborted or undelivered batch is read again.

A rewind that fails is fatal (as in librdkafka's transactions.c): reading on would let the next
batch's offsets move past records that were never written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from consumer.kafka_errors import RewindFailedError
from consumer.offsets import Position, batch_start_offsets

OFFSET_BEGINNING = -2  # librdkafka's logical offset: what auto.offset.reset=earliest means

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


def rewind_to_committed(
    consumer: Consumer, assigned: Collection[Position], timeout_s: float
) -> None:
    """Seek every assigned partition to its committed offset. After a producer was replaced, the
    old transaction may have been committed or aborted (the new producer's init_transactions
    settles which); the committed offsets, read with read_committed's stable fetch, say which."""
    if not assigned:
        return
    wanted = [TopicPartition(topic, partition) for topic, partition in sorted(assigned)]
    try:
        committed = consumer.committed(wanted, timeout=timeout_s)
    except KafkaException as exc:
        first = wanted[0]
        raise RewindFailedError(first.topic, first.partition, -1, f"committed: {exc}") from exc
    for position in committed:
        if position.offset < 0:
            position.offset = OFFSET_BEGINNING
        seek(consumer, position)


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
