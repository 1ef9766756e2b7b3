"""At-least-once delivery: an idempotent producer; a batch's offsets are stored only once every
output of it is acknowledged, and committed from that store (in the background, and at once when
partitions are revoked). A crash can repeat a batch, never lose one.

A batch not fully delivered is rewound and read again: transient failures are retried (each
attempt bounded by `kafka_timeout_s`, with backoff between attempts in the loop); a record the
broker keeps refusing becomes a truncated dead letter after bounded attempts (consumer/
batch_writer.py), and if even that is refused the loop stops with its position.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence

from confluent_kafka import KafkaException, Message

from consumer.delivery.base import DeliveryBase
from consumer.kafka.errors import BatchAborted
from consumer.kafka.offsets import Position, batch_next_offsets
from consumer.kafka.rewind import rewind
from consumer.records import BatchOutcome
from consumer.telemetry.liveness import Liveness

logger = logging.getLogger(__name__)


class AtLeastOnceDelivery(DeliveryBase):
    def open(self, stop: threading.Event, liveness: Liveness) -> bool:
        del liveness  # nothing to wait for: the producer connects lazily
        self._new_producer()
        return not stop.is_set()

    def publish(self, messages: Sequence[Message], outcome: BatchOutcome) -> bool:
        producer, consumer, writer = self._parts()
        timeout = self._settings.kafka_timeout_s
        try:
            # The scored ids only once their scores are delivered: an id in the changelog is
            # skipped when its batch is read again, so one written beside a score that then
            # failed would lose that score. A failure between the two re-sends the scores (the
            # at-least-once cost), never loses one.
            writer.write(messages, outcome, time.monotonic() + timeout, changelog=False)
            remaining = producer.flush(timeout)
            if not remaining and not writer.failed_deliveries and outcome.changelog:
                writer.write_changelog(messages, outcome, time.monotonic() + timeout)
                remaining = producer.flush(timeout)
        except BatchAborted as failed:
            remaining, writer.last_delivery_error = 0, str(failed)
            writer.failed_deliveries += 1
        if remaining or writer.failed_deliveries:
            logger.warning(
                "batch not fully delivered; reading it again",
                extra={
                    "undelivered": remaining,
                    "failed": writer.failed_deliveries,
                    "kafka_error": writer.last_delivery_error,
                },
            )
            self._last_failure = self._diagnosed(
                f"delivery: {writer.last_delivery_error or 'timed out'}", writer
            )
            self._readiness.set_broker_reachable(False, self._last_failure)
            self._metrics.transactions.labels("aborted").inc()
            rewind(consumer, messages, self._tracker.assigned, self._fault_injector)
            return False
        writer.forget(messages)
        with contextlib.suppress(KafkaException):  # a partition revoked meanwhile: its new
            consumer.store_offsets(offsets=batch_next_offsets(messages))  # owner re-reads it
        self._metrics.transactions.labels("committed").inc()
        return True

    def on_revoke(self, partitions: list[Position], stopping: bool) -> None:
        if self._writer is not None:
            self._writer.forget_partitions(partitions)
        if self._consumer is not None and not stopping:
            # Stored offsets cover fully delivered batches only; hand them over now.
            with contextlib.suppress(KafkaException):
                self._consumer.commit(asynchronous=False)

    def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(KafkaException, RuntimeError):
                self._producer.flush(self._settings.kafka_timeout_s)
