"""The Kafka loop: consume a micro-batch, hand it to the pipeline, publish it through the delivery
mode, repeat.

What the loop owns: the consumer, rebalance bookkeeping (consumer/kafka/partition_tracker.py), the
backoff between attempts of a batch that was rolled back, metrics of committed batches, and the
liveness beat. What it does not: offsets and the transaction boundary, which belong to the
delivery mode (consumer/delivery/mode.py), and scoring, which belongs to the pipeline.

Every call in an iteration is bounded; errors after which going on could lose or double data
raise `StopScoringError` (consumer/kafka/errors.py), and the service exits 1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.config.settings import Settings
from consumer.delivery.choice import delivery_mode_for
from consumer.delivery.mode import DeliveryMode
from consumer.kafka.batching import consume_batch
from consumer.kafka.calls import INITIAL_BACKOFF_S, MAX_BACKOFF_S
from consumer.kafka.config import consumer_config
from consumer.kafka.errors import FatalKafkaError
from consumer.kafka.offsets import offset_ranges
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.kafka.produce import produce_record
from consumer.kafka.retry_bound import RetryBound
from consumer.kafka.rewind import FaultInjector, rewind, rewind_to_committed
from consumer.kafka.stats import brokers_up, consumer_lags
from consumer.records import BatchOutcome, BatchProcessor
from consumer.runtime.state_keeper import StateKeeper
from consumer.state.errors import ChangelogError, StateError
from consumer.state.partitions import PartitionStates
from consumer.telemetry import audit
from consumer.telemetry.batch_metrics import record_batch
from consumer.telemetry.drift import DriftMonitor
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness
from consumer.telemetry.tracing import Tracing

logger = logging.getLogger(__name__)

# Client errors that no wait fixes (wrong credentials, a certificate we do not trust), with the
# step that failed; librdkafka keeps reconnecting (every 2 s or more: consumer/config/settings.py).
SECURITY_ERRORS = {
    KafkaError._AUTHENTICATION: "authentication",
    KafkaError._SSL: "TLS handshake",
}

__all__ = ["ScoringLoop", "produce_record"]  # produce_record: where the tools first found it


class ScoringLoop:
    """One consumer, one delivery mode, one batch at a time. Call `run()` in the main thread."""

    def __init__(
        self,
        settings: Settings,
        process_batch: BatchProcessor,
        metrics: ScorerMetrics,
        readiness: Readiness,
        *,
        clock: Callable[[], float] = time.time,
        fault_injector: FaultInjector | None = None,
        drift: DriftMonitor | None = None,
        liveness: Liveness | None = None,
        versions: tuple[str, str] = ("unknown", "unknown"),
        state: PartitionStates | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._settings = settings
        # W3C trace context from inputs to outputs, and spans when an SDK is configured.
        self._tracing = tracing or Tracing(
            input_topic=settings.input_topic, output_topic=settings.output_topic
        )
        self._versions = versions  # (model, policy), for the audit line of each batch
        self._process_batch = process_batch
        self._metrics = metrics
        self._readiness = readiness
        self._clock = clock
        self._drift = drift
        self._liveness = liveness or Liveness()
        self._stop = threading.Event()
        self._tracker = PartitionTracker()
        self._delivery: DeliveryMode = delivery_mode_for(
            settings,
            metrics,
            readiness,
            self._tracker,
            on_client_error=self._on_client_error,
            fault_injector=fault_injector,
        )
        self._consumer: Consumer | None = None
        self._retry_backoff_s = INITIAL_BACKOFF_S
        # A batch read again after an abort, a failed delivery or an unreadable changelog.
        self._batch_bound = self.retry_bound("batch")
        self._state = (
            StateKeeper(state, metrics, settings.input_topic, self.retry_bound("restore"))
            if state is not None
            else None
        )

    def retry_bound(self, loop: str) -> RetryBound:
        return RetryBound(
            loop,
            unready_after_s=self._settings.retry_unready_after_s,
            exit_after_s=self._settings.retry_exit_after_s,
            readiness=self._readiness,
            metrics=self._metrics,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the loop to finish the batch in flight and stop (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("the consumer exists only while run() runs")
        return self._consumer

    def run(self) -> None:
        """Score until asked to stop. Raises `StopScoringError` when going on is unsafe."""
        settings = self._settings
        self._liveness.watch(settings.liveness_stall_s)
        try:
            if not self._delivery.open(self._stop, self._liveness):
                return
            self._consumer = Consumer(
                {
                    **consumer_config(settings),
                    "error_cb": self._on_client_error,
                    "stats_cb": self._on_stats,
                }
            )
            self._delivery.attach(self._consumer)
            self._consumer.subscribe(
                [settings.input_topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            logger.info(
                "scorer started",
                extra={
                    "delivery": settings.delivery,
                    "transactional_id": settings.transactional_id,
                },
            )
            while not self._stop.is_set():
                self._run_once()
                self._liveness.beat()
        finally:
            self._close()

    def _close(self) -> None:
        """Never raises: an error that stopped the loop must reach the service unmasked."""
        self._readiness.set_stopping()
        self._delivery.close()
        if self._state is not None:
            self._state.close()
        if self._consumer is not None:
            # Leaves the group now, so the partitions move to another member without waiting
            # for the session to time out (at-least-once also commits its stored offsets here).
            with contextlib.suppress(KafkaException, RuntimeError):
                self._consumer.close()
        logger.info("scorer stopped")

    # -- one batch -------------------------------------------------------------------------

    def _run_once(self) -> None:
        consumer = self.consumer
        self._tracker.begin_consume()
        consume_started = self._tracing.clock()
        polled = consume_batch(
            consumer, self._settings.batch_max_events, self._settings.batch_linger_ms / 1000
        )
        self._resync_reassigned()
        if self._state is not None:
            self._state.restore_assigned(self._tracker.assigned)
            self._state.refresh_gauges()
        messages = [m for m in polled if self._usable(m)]
        if not messages:
            if self._drift is not None:  # quiet: the PSI of everything committed so far
                self._drift.flush(self._metrics.population_stability_index)
            return
        self._metrics.events_consumed.inc(self._tracker.first_reads(messages))
        self._metrics.batch_events.observe(len(messages))
        trace = self._tracing.batch(messages, consume_started)
        started = time.perf_counter()
        try:
            outcome = self._process_batch(messages)
        except (ChangelogError, StateError) as error:
            # The ids scored before could not be read (a broker away): nothing of this batch
            # was written, so read it again later, like a batch that could not be published.
            logger.warning("changelog of scored ids unreadable; batch will be read again")
            self._readiness.set_broker_reachable(False, str(error))
            if self._state is not None:
                self._state.discard()
            rewind(consumer, messages, self._tracker.assigned)
            self._pause_before_retry(f"{error} {_where(messages)}")
            return
        self._metrics.scoring_duration.observe(outcome.scoring_seconds)
        if trace is not None:
            outcome = trace.stamp(outcome)
        published = False
        try:
            published = self._delivery.publish(messages, outcome)
        finally:  # a batch that stops the scorer still ends (and exports) its spans
            if trace is not None:
                trace.published(published)
        if published:
            replaced = self._delivery.replaced_scores()
            if replaced:
                if self._state is not None:
                    self._state.unstage(replaced)
                outcome = outcome.without_scores({event_id for _, event_id in replaced})
            if self._state is not None:
                self._state.commit()
            self._retry_backoff_s = INITIAL_BACKOFF_S
            self._batch_bound.succeeded()
            self._readiness.set_broker_reachable(True)
            self._record_outcome(outcome)
            self._audit(messages, outcome, time.perf_counter() - started)
        else:
            if self._state is not None:
                self._state.discard()
            self._pause_before_retry(f"{self._delivery.last_failure()} {_where(messages)}")

    def _pause_before_retry(self, cause: str) -> None:
        """The batch was rolled back and rewound: read it again after a pause, so a broker away
        is not hammered; a stop request cuts the pause short (nothing is open any more). Failing
        past the retry bound is not ready, then a stop (`RetryBoundExceeded`)."""
        self._metrics.kafka_retries.labels("batch").inc()
        self._batch_bound.failed(cause)
        self._stop.wait(self._retry_backoff_s)
        self._retry_backoff_s = min(self._retry_backoff_s * 2, MAX_BACKOFF_S)

    def _usable(self, msg: Message) -> bool:
        error = msg.error()
        if error is not None:
            if error.fatal():
                raise FatalKafkaError(error, "consume")
            # Not a record: a transient consumer error (unknown topic while it is being created,
            # broker down). librdkafka recovers by itself; say so and go on.
            logger.warning("consumer error", extra={"kafka_error": error.name()})
            return False
        return self._tracker.usable(msg)

    def _resync_reassigned(self) -> None:
        """Partitions revoked and assigned back within one consume(): their records were
        dropped, so read them again from the committed offset."""
        partitions = self._tracker.to_resync()
        if not partitions:
            return
        # Asked again while it times out, as after a replaced producer (consumer/kafka/rewind.py).
        rewind_to_committed(self.consumer, partitions, self._settings.kafka_timeout_s)

    def _record_outcome(self, outcome: BatchOutcome) -> None:
        record_batch(self._metrics, outcome, self._clock())
        if self._drift is not None and outcome.drift is not None:
            self._drift.add(outcome.drift)
            self._drift.publish(self._metrics.population_stability_index)

    def _audit(self, messages: list[Message], outcome: BatchOutcome, seconds: float) -> None:
        offsets = {
            f"{topic}:{partition}": span
            for (topic, partition), span in offset_ranges(messages).items()
        }
        audit.stream_batch(
            champion_version=self._versions[0],
            policy_version=self._versions[1],
            decisions=((fact.model_version, fact.decision) for fact in outcome.scored),
            dead_letter_reasons=outcome.dead_letter_reasons,
            duplicates=outcome.duplicates,
            offsets=offsets,
            latency_ms=seconds * 1000,
        )

    # -- callbacks (run inside consume(), poll() or flush()) -----------------------------------

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._tracker.assign((tp.topic, tp.partition) for tp in partitions)
        if self._state is not None:
            self._state.assigned(tp.partition for tp in partitions)
        self._readiness.set_assignment("assigned", len(self._tracker.assigned))
        logger.info(
            "partitions assigned",
            extra={"partitions": sorted(tp.partition for tp in partitions)},
        )

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        logger.info(
            "partitions revoked", extra={"partitions": sorted(tp.partition for tp in partitions)}
        )

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        logger.warning(
            "partitions lost", extra={"partitions": sorted(tp.partition for tp in partitions)}
        )

    def _forget(self, partitions: list[TopicPartition]) -> None:
        keys = [(tp.topic, tp.partition) for tp in partitions]
        self._tracker.revoke(keys)
        if self._state is not None:
            self._state.revoke(keys)
        self._delivery.on_revoke(keys, stopping=self._stop.is_set())
        for topic, partition in keys:
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(topic, str(partition))
        self._readiness.set_assignment(
            "assigned" if self._tracker.assigned else "pending", len(self._tracker.assigned)
        )

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() in SECURITY_ERRORS:
            # librdkafka's text names the broker and the cause (e.g. "SASL authentication
            # error: ... invalid credentials", "certificate verify failed"), never a secret.
            problem = f"Kafka {SECURITY_ERRORS[error.code()]} failed: {error.str()}"
            self._readiness.set_kafka_security_problem(problem)
            logger.error(
                "kafka connection refused: fix the security settings",
                extra={"kafka_error": error.name(), "error": error.str()},
            )
            return
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._readiness.set_broker_reachable(False, error.name())
        logger.warning(
            "kafka client error", extra={"kafka_error": error.name(), "error": error.str()}
        )

    def _on_stats(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)
        except json.JSONDecodeError:
            return
        self._readiness.set_broker_reachable(brokers_up(stats))
        for (topic, partition), lag in consumer_lags(stats).items():
            if (topic, partition) in self._tracker.assigned:
                self._metrics.consumer_lag.labels(topic, str(partition)).set(lag)


def _where(messages: list[Message]) -> str:
    """The input partitions a failing batch holds back, for the retry bound's reason."""
    spans = ", ".join(
        f"{topic}[{partition}]@{first}"
        for (topic, partition), (first, _last) in sorted(offset_ranges(messages).items())
    )
    return f"(batch at {spans})"
