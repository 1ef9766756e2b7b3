"""Exactly-once delivery: each batch's scores, dead letters and consumer offsets are committed in
one Kafka transaction (`send_offsets_to_transaction` with the consumer's group metadata, KIP-447),
so a batch is either wholly visible to read_committed readers with its offsets committed, or not
at all.

Bounds (consumer/kafka_calls.py): retriable errors inside a transaction are retried only until the
transaction's own timeout (`transaction.timeout.ms`), then the transaction is aborted and the
batch rewound; librdkafka bumps the producer epoch on that abort when the coordinator has timed
the transaction out, so the loop recovers without a restart. An abort that fails, a rewind that
fails, a fatal error (e.g. fenced by a newer producer with our transactional.id, or a zombie whose
transaction the coordinator aborted) stop the loop: exit 1, and the restart resumes from the
committed offsets.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, Message, Producer

from consumer.batch import BatchOutcome
from consumer.batch_writer import BatchWriter
from consumer.delivery_mode import ClientErrorCallback, FaultInjector
from consumer.health import Readiness
from consumer.kafka_calls import KafkaCalls, kafka_error
from consumer.kafka_config import producer_config
from consumer.kafka_errors import (
    BatchAborted,
    FatalKafkaError,
    StopScoringError,
    TransactionStateError,
)
from consumer.liveness import Liveness
from consumer.metrics import ScorerMetrics
from consumer.offsets import Position, batch_next_offsets
from consumer.partition_tracker import PartitionTracker
from consumer.rewind import rewind
from consumer.settings import Settings

logger = logging.getLogger(__name__)


class ExactlyOnceDelivery:
    def __init__(
        self,
        settings: Settings,
        metrics: ScorerMetrics,
        readiness: Readiness,
        tracker: PartitionTracker,
        *,
        on_client_error: ClientErrorCallback,
        fault_injector: FaultInjector | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._readiness = readiness
        self._tracker = tracker
        self._on_client_error = on_client_error
        # A seam for the fault tests: called with a stage name ("before_commit", "rewind") and
        # may raise a KafkaException, which then takes the path of one raised by librdkafka.
        self._fault_injector = fault_injector
        self._calls = KafkaCalls(metrics, readiness, call_timeout_s=settings.kafka_timeout_s)
        self._transaction_s = settings.transaction_timeout_ms / 1000
        self._abort_bound_s = 2 * settings.kafka_timeout_s
        self._producer: Producer | None = None
        self._writer: BatchWriter | None = None
        self._consumer: Consumer | None = None
        self._in_transaction = False

    def open(self, stop: threading.Event, liveness: Liveness) -> bool:
        """Register our transactional.id, fencing any zombie with the same id and aborting its
        open transaction; waits for the broker as long as it takes (not ready meanwhile)."""
        producer = Producer({**producer_config(self._settings), "error_cb": self._on_client_error})
        self._producer = producer
        self._writer = BatchWriter(
            producer, dlq_topic=self._settings.dlq_topic, metrics=self._metrics
        )
        if not self._calls.until_stopped(
            "init_transactions", producer.init_transactions, stop, on_wait=liveness.beat
        ):
            return False
        self._readiness.set_broker_reachable(True)
        return True

    def attach(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def publish(self, messages: Sequence[Message], outcome: BatchOutcome) -> bool:
        producer, consumer, writer = self._parts()
        deadline = time.monotonic() + self._transaction_s
        self._begin(producer)
        try:
            writer.write(messages, outcome, deadline)
            offsets = batch_next_offsets(messages)
            group = consumer.consumer_group_metadata()
            self._calls.in_transaction(
                "send_offsets_to_transaction",
                lambda timeout: producer.send_offsets_to_transaction(offsets, group, timeout),
                deadline,
            )
            self._calls.in_transaction("commit_transaction", self._commit, deadline)
        except BatchAborted as aborted:
            self._abort(producer)
            self._readiness.set_broker_reachable(False, str(aborted))
            rewind(consumer, messages, self._tracker.assigned, self._fault_injector)
            return False
        except StopScoringError:
            self._abort_quietly()
            raise
        self._in_transaction = False
        writer.forget(messages)
        self._metrics.transactions.labels("committed").inc()
        return True

    def on_revoke(self, partitions: list[Position], stopping: bool) -> None:
        del stopping  # offsets travel in the transactions; nothing is owed
        if self._writer is not None:
            self._writer.forget_partitions(partitions)

    def close(self) -> None:
        self._abort_quietly()
        if self._producer is not None:
            with contextlib.suppress(KafkaException, RuntimeError):
                self._producer.flush(min(5.0, self._settings.kafka_timeout_s))

    def _parts(self) -> tuple[Producer, Consumer, BatchWriter]:
        if self._producer is None or self._writer is None or self._consumer is None:
            raise RuntimeError("publish() needs open() and attach() first")
        return self._producer, self._consumer, self._writer

    def _begin(self, producer: Producer) -> None:
        """begin_transaction fails only when the producer is not in the state we believe (or is
        dead): there is no transaction to abort, so the loop stops."""
        try:
            producer.begin_transaction()
        except KafkaException as exc:
            error = kafka_error(exc)
            if error.fatal():
                raise FatalKafkaError(error, "begin_transaction") from exc
            raise TransactionStateError(
                f"begin_transaction failed: {error.name()}: {error.str()}"
            ) from exc
        self._in_transaction = True

    def _commit(self, timeout: float) -> None:
        producer, _consumer, _writer = self._parts()
        if self._fault_injector is not None:
            # As with a real commit failure, the batch's records have reached the broker.
            producer.flush(timeout)
            self._fault_injector("before_commit")
        producer.commit_transaction(timeout)

    def _abort(self, producer: Producer) -> None:
        self._calls.abort(producer.abort_transaction, time.monotonic() + self._abort_bound_s)
        self._in_transaction = False
        self._metrics.transactions.labels("aborted").inc()

    def _abort_quietly(self) -> None:
        """On the way out: an open transaction is aborted now rather than left to block
        read_committed readers until the coordinator times it out."""
        if not self._in_transaction or self._producer is None:
            return
        try:
            self._calls.abort(
                self._producer.abort_transaction,
                time.monotonic() + min(10.0, self._settings.kafka_timeout_s),
            )
            self._metrics.transactions.labels("aborted").inc()
        except StopScoringError as error:
            logger.warning("could not abort the open transaction", extra={"error": str(error)})
        self._in_transaction = False
