"""Seeking the consumer back so an aborted or undelivered batch is read again.

A rewind that fails is fatal (as in librdkafka's transactions.c): reading on would let the next
batch's offsets move past records that were never written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.kafka.errors import RewindFailedError
from consumer.kafka.offsets import Position, batch_start_offsets

logger = logging.getLogger(__name__)

OFFSET_BEGINNING = -2  # librdkafka's logical offset: what auto.offset.reset=earliest means
# Tries at reading the committed offsets that time out before a rewind gives up (each is bounded
# by LOAN_SCORER_KAFKA_TIMEOUT_S, so this waits at most three of them).
COMMITTED_ATTEMPTS = 3

# A seam for the fault tests, passed down from the loop through the delivery modes: called with
# a stage name ("before_commit", "rewind") and may raise a KafkaException, which then takes the
# path of one raised by librdkafka.
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
    committed = committed_offsets(consumer, wanted, timeout_s)
    for position in committed:
        if (position.topic, position.partition) not in assigned:
            continue  # lost meanwhile: its next owner (maybe us again) starts from the committed
        if position.offset < 0:
            position.offset = OFFSET_BEGINNING
        seek(consumer, position)


def committed_offsets(
    consumer: Consumer, wanted: list[TopicPartition], timeout_s: float
) -> list[TopicPartition]:
    """The committed offsets, asked up to COMMITTED_ATTEMPTS times while the answer times out:
    right after a broker restart the consumer's group coordinator can take longer than one
    timeout to be found again (the scorer exited 14 s after the broker was back). Reading is
    safe to repeat, and nothing is consumed meanwhile; any other error, or the last timeout,
    still stops the loop."""
    for attempt in range(1, COMMITTED_ATTEMPTS + 1):
        try:
            return list(consumer.committed(wanted, timeout=timeout_s))
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            timed_out = isinstance(error, KafkaError) and error.code() == KafkaError._TIMED_OUT
            if not timed_out or attempt == COMMITTED_ATTEMPTS:
                first = wanted[0]
                raise RewindFailedError(
                    first.topic, first.partition, -1, f"committed: {exc}"
                ) from exc
            logger.warning(
                "reading the committed offsets timed out; asking again",
                extra={"attempt": attempt, "of": COMMITTED_ATTEMPTS},
            )
    raise AssertionError("unreachable")  # the loop returns or raises


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
