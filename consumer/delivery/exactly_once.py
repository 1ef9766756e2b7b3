"""Exactly-once delivery: each batch's scores, dead letters and consumer offsets are committed in
one Kafka transaction (`send_offsets_to_transaction` with the consumer's group metadata, KIP-447),
so a batch is either wholly visible to read_committed readers with its offsets committed, or not
at all.

Bounds (consumer/kafka/calls.py): retriable errors inside a transaction are retried only until the
transaction's own timeout (`transaction.timeout.ms`), then the transaction is aborted and the
batch rewound; librdkafka bumps the producer epoch on that abort when the coordinator has timed
the transaction out, so the loop recovers without a restart. An abort that fails, a rewind that
fails, a fatal error (e.g. fenced by a newer producer with our transactional.id, or a zombie whose
transaction the coordinator aborted) stop the loop: exit 1, and the restart resumes from the
committed offsets.

Replacing the producer is capped: more than `producer_replacements_max` replacements within
`producer_replacements_window_s` stop the loop (exit 1) rather than pile up producers and helper
threads; each replaced producer is freed once its stuck call returns (consumer/kafka/calls.py
`abandon`), and each replacement is counted in `loan_scorer_producer_replacements_total`. The
wait for `init_transactions` has the retry bound of every loop (consumer/kafka/retry_bound.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from consumer.config.settings import Settings
from consumer.delivery.base import DeliveryBase
from consumer.delivery.batch_writer import BatchWriter
from consumer.delivery.mode import ClientErrorCallback
from consumer.kafka.calls import KafkaCalls, kafka_error
from consumer.kafka.errors import (
    BatchAborted,
    FatalKafkaError,
    ProducerWedgedError,
    StopScoringError,
    TransactionStateError,
)
from consumer.kafka.freeze_detector import FreezeDetector
from consumer.kafka.offsets import Position, batch_next_offsets
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.kafka.retry_bound import RetryBound
from consumer.kafka.rewind import FaultInjector, rewind, rewind_to_committed
from consumer.records import BatchOutcome
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness

logger = logging.getLogger(__name__)

# Fatal errors that mean "this producer's epoch or transaction is no longer the coordinator's",
# which a new producer (init_transactions, KIP-360/588 epoch bump) recovers from. librdkafka
# reports the coordinator timing a transaction out while the broker was away as any of these.
RECOVERABLE_FENCES = frozenset(
    {
        KafkaError._FENCED,
        KafkaError.INVALID_TXN_STATE,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_ID_MAPPING,
    }
)
# Producers replaced in a row without a committed batch before the loop gives up (exit 1).
MAX_REPLACEMENTS = 3


class ExactlyOnceDelivery(DeliveryBase):
    def __init__(
        self,
        settings: Settings,
        metrics: ScorerMetrics,
        readiness: Readiness,
        tracker: PartitionTracker,
        *,
        on_client_error: ClientErrorCallback,
        fault_injector: FaultInjector | None = None,
        freezes: FreezeDetector | None = None,
        calls: KafkaCalls | None = None,
    ) -> None:
        super().__init__(
            settings,
            metrics,
            readiness,
            tracker,
            on_client_error=on_client_error,
            fault_injector=fault_injector,
        )
        self._calls = calls or KafkaCalls(
            metrics, readiness, call_timeout_s=settings.kafka_timeout_s
        )
        self._transaction_s = settings.transaction_timeout_ms / 1000
        self._abort_bound_s = 2 * settings.kafka_timeout_s
        self._in_transaction = False
        self._stop = threading.Event()
        self._liveness = Liveness()
        # A producer was given up (replaced, or stuck when the process froze): never flushed on
        # close, which would block on the very call that is stuck.
        self._abandoned = False
        self._freezes = freezes or FreezeDetector()
        self._freezes_started = False
        self._replaced_in_a_row = 0
        self._replaced_at: deque[float] = deque()  # within the cap's window
        self._began_at = time.monotonic()
        self._init_bound = RetryBound(
            "init_transactions",
            unready_after_s=settings.retry_unready_after_s,
            exit_after_s=settings.retry_exit_after_s,
            readiness=readiness,
            metrics=metrics,
        )

    def open(self, stop: threading.Event, liveness: Liveness) -> bool:
        """Register our transactional.id, fencing any zombie with the same id and aborting its
        open transaction; waits for the broker (not ready meanwhile) within the retry bound."""
        self._stop, self._liveness = stop, liveness
        if not self._freezes_started:
            self._freezes_started = True
            self._freezes.start()
        producer = self._new_producer()

        def on_wait() -> None:
            liveness.beat()
            # Serves error_cb, which is how a refused login or an untrusted certificate reaches
            # readiness and the log while init_transactions only times out.
            producer.poll(0)

        if not self._calls.until_stopped(
            "init_transactions",
            producer.init_transactions,
            stop,
            on_wait=on_wait,
            on_failure=self._init_bound.failed,
        ):
            return False
        self._init_bound.succeeded()
        self._readiness.set_broker_reachable(True)
        return True

    def publish(self, messages: Sequence[Message], outcome: BatchOutcome) -> bool:
        producer, consumer, writer = self._parts()
        self._calls.abandoned()  # frees the helper threads whose stuck call has returned
        self._began_at = time.monotonic()
        deadline = self._began_at + self._transaction_s
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
            self._last_failure = self._diagnosed(_cause(aborted, writer), writer)
            replaced = self._end_failed_transaction(producer)
            self._readiness.set_broker_reachable(False, self._last_failure)
            self._rewind(messages, replaced)
            return False
        except ProducerWedgedError as wedged:
            self._last_failure = self._diagnosed(str(wedged), writer)
            self._rewind(messages, self._replace_producer(wedged))
            return False
        except FatalKafkaError as fatal:
            self._last_failure = str(fatal)
            self._rewind(messages, self._recover_from_fence(fatal))
            return False
        except StopScoringError:
            self._abort_quietly()
            raise
        self._in_transaction = False
        self._replaced_in_a_row = 0
        writer.forget(messages)
        self._metrics.transactions.labels("committed").inc()
        return True

    def on_revoke(self, partitions: list[Position], stopping: bool) -> None:
        del stopping  # offsets travel in the transactions; nothing is owed
        if self._writer is not None:
            self._writer.forget_partitions(partitions)

    def close(self) -> None:
        self._freezes.stop()
        self._abort_quietly()
        if self._producer is not None and not self._abandoned:
            with contextlib.suppress(KafkaException, RuntimeError):
                self._producer.flush(min(5.0, self._settings.kafka_timeout_s))

    def _end_failed_transaction(self, producer: Producer) -> bool:
        """Abort; a stuck abort or a fence that a new producer can recover from replaces it.
        Returns whether the producer was replaced."""
        try:
            self._abort(producer)
        except ProducerWedgedError as wedged:
            return self._replace_producer(wedged)
        except FatalKafkaError as fatal:
            return self._recover_from_fence(fatal)
        return False

    def _recover_from_fence(self, fatal: FatalKafkaError) -> bool:
        """Replace the producer after a recoverable fence; raise `fatal` otherwise."""
        if not self._fenced_by_a_timeout(fatal):
            self._abort_quietly()
            raise fatal
        return self._replace_producer(
            ProducerWedgedError(str(fatal), self._transaction_s), reason="fenced"
        )

    def _rewind(self, messages: Sequence[Message], producer_replaced: bool) -> None:
        """Back to the batch's start after an abort we made; after a replaced producer, to the
        committed offsets, since the old transaction may have been committed after all."""
        _producer, consumer, _writer = self._parts_or_consumer()
        if producer_replaced:
            rewind_to_committed(consumer, self._tracker.assigned, self._settings.kafka_timeout_s)
        else:
            rewind(consumer, messages, self._tracker.assigned, self._fault_injector)

    def _parts_or_consumer(self) -> tuple[Producer | None, Consumer, BatchWriter | None]:
        if self._consumer is None:
            raise RuntimeError("publish() needs attach() first")
        return self._producer, self._consumer, self._writer

    def _fenced_by_a_timeout(self, fatal: FatalKafkaError) -> bool:
        """Fenced because the coordinator timed our transaction out while the broker was away
        (KIP-588: it bumps the epoch), not because another instance took over: recoverable with
        a new producer. A fence after this process was frozen (SIGSTOP, a long pause) is a
        zombie's: final. librdkafka reports both as a fatal _FENCED."""
        if fatal.error.code() not in RECOVERABLE_FENCES:
            return False
        if self._replaced_in_a_row >= MAX_REPLACEMENTS:
            logger.error("producer replaced %d times in a row; stopping", MAX_REPLACEMENTS)
            return False
        if self._freezes.frozen_since(self._began_at):
            logger.error("fenced after this process was frozen: a zombie; stopping")
            return False
        return True

    def _replace_producer(self, wedged: ProducerWedgedError, reason: str = "wedged") -> bool:
        """A new producer with our transactional.id: its init_transactions fences the stuck one
        and has the coordinator abort its transaction, so nothing it wrote becomes visible.
        Not after a freeze: the call's wait ran out while the whole process stood still
        (SIGSTOP, a paused VM), past its session, so the group has moved on without us; a new
        producer would make this zombie a member again. That is final, as a fence after a freeze
        is."""
        if self._freezes.frozen_since(self._began_at):
            logger.error("transactional call outlived by a freeze of this process: a zombie")
            self._abandoned = True  # fenced anyway; never flushed on close
            self._in_transaction = False
            raise StopScoringError(f"{wedged} while this process was frozen: a zombie, stopping")
        logger.error(
            "producer stuck in a transactional call; replacing it",
            extra={"operation": wedged.operation, "error": str(wedged)},
        )
        self._readiness.set_broker_reachable(False, str(wedged))
        self._count_replacement(wedged, reason)
        if self._producer is not None:
            self._abandoned = True
            self._calls.abandon(self._producer)
        old_writer = self._writer
        self._replaced_in_a_row += 1
        self._in_transaction = False
        self._producer = None
        if not self.open(self._stop, self._liveness):
            return True  # stopping: the loop ends after this batch
        if old_writer is not None and self._writer is not None:
            self._writer.adopt(old_writer)
        self._metrics.transactions.labels("aborted").inc()
        return True

    def _count_replacement(self, wedged: ProducerWedgedError, reason: str) -> None:
        """Within the cap, count one more replacement; past it, stop (exit 1): a producer that
        keeps getting stuck will not be fixed by the next one, and each costs a helper thread
        until its call returns."""
        now = time.monotonic()
        window_s = self._settings.producer_replacements_window_s
        while self._replaced_at and now - self._replaced_at[0] > window_s:
            self._replaced_at.popleft()
        if len(self._replaced_at) >= self._settings.producer_replacements_max:
            self._in_transaction = False
            self._abandoned = True
            raise StopScoringError(
                f"producer replaced {len(self._replaced_at)} times within {window_s:.0f} s, the "
                f"cap (LOAN_SCORER_PRODUCER_REPLACEMENTS_MAX); last: {wedged}; batch failing "
                f"with: {self._last_failure}"
            )
        self._replaced_at.append(now)
        self._metrics.producer_replacements.labels(reason).inc()

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
        except (StopScoringError, ProducerWedgedError) as error:
            logger.warning("could not abort the open transaction", extra={"error": str(error)})
        self._in_transaction = False


def _cause(aborted: BatchAborted, writer: BatchWriter) -> str:
    """The abort, with the delivery error behind it when there is one: a commit that failed
    because a record could not be delivered names the record's topic and error."""
    if writer.last_delivery_error is None:
        return str(aborted)
    return f"{aborted} (delivery: {writer.last_delivery_error})"
