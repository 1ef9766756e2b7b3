"""The Kafka loop: consume a micro-batch, hand it to the pipeline, publish, commit; repeat.

Exactly-once (default): each batch's scores, dead letters and consumer offsets are committed in
one Kafka transaction (`send_offsets_to_transaction` with the consumer's group metadata, KIP-447),
so a batch is either wholly visible to read_committed readers with its offsets committed, or not
at all. Errors follow librdkafka's classes (see its transactions.c example):

- retriable: call the same operation again, with backoff, until it succeeds;
- abortable (`txn_requires_abort`): abort, rewind the consumer to the batch's first offsets and
  read the batch again;
- fatal (e.g. fenced by a newer instance with our transactional.id): raise `FatalKafkaError`, so
  the process exits non-zero and the orchestrator restarts it.

At-least-once: an idempotent producer; a batch's offsets are stored only once every output of it
is acknowledged, and committed from that store. A crash can repeat a batch, never lose one.

Rebalance callbacks run only inside `consume()`, between batches, so no batch of a revoked
partition is ever in flight when its revocation is acknowledged; records of a partition revoked
while `consume()` ran are dropped from that batch unprocessed (its new owner reads them).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from consumer.batch import BatchOutcome, BatchProcessor, OutboundRecord
from consumer.drift import DriftMonitor
from consumer.health import Readiness
from consumer.kafka_config import consumer_config, producer_config
from consumer.kafka_stats import brokers_up, consumer_lags
from consumer.metrics import ScorerMetrics
from consumer.settings import Settings

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0


class FatalKafkaError(RuntimeError):
    """librdkafka reported a fatal error; this process must not go on (exit non-zero)."""

    def __init__(self, error: KafkaError) -> None:
        super().__init__(f"fatal Kafka error {error.name()}: {error.str()}")
        self.error = error


class _AbortedError(Exception):
    """The batch's transaction was aborted; it will be read again."""


def _offset_ranges(messages: Sequence[Message]) -> dict[tuple[str, int], tuple[int, int]]:
    """The first and last offset of a batch in each (topic, partition) it touches."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    for msg in messages:
        key = (str(msg.topic()), int(msg.partition() or 0))
        offset = int(msg.offset() or 0)
        first, last = ranges.get(key, (offset, offset))
        ranges[key] = (min(first, offset), max(last, offset))
    return ranges


def batch_start_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    """Where to rewind to so that a batch is read again: its first offset in each partition."""
    return [TopicPartition(t, p, first) for (t, p), (first, _) in _offset_ranges(messages).items()]


def batch_next_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    """The offsets to commit for a batch: one past its last offset in each partition."""
    return [
        TopicPartition(t, p, last + 1) for (t, p), (_, last) in _offset_ranges(messages).items()
    ]


def produce_record(
    producer: Producer,
    record: OutboundRecord,
    on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
) -> None:
    """Hand one record to librdkafka, serving delivery reports while its local queue is full."""
    while True:
        try:
            producer.produce(
                record.topic,
                value=record.value,
                key=record.key,
                headers=record.headers,
                timestamp=record.timestamp_ms or 0,  # 0: librdkafka stamps the current time
                on_delivery=on_delivery,
            )
            return
        except BufferError:
            producer.poll(0.05)


class ScoringLoop:
    """One consumer, one producer, one batch at a time. Call `run()` in the main thread."""

    def __init__(
        self,
        settings: Settings,
        process_batch: BatchProcessor,
        metrics: ScorerMetrics,
        readiness: Readiness,
        *,
        clock: Callable[[], float] = time.time,
        fault_injector: Callable[[str], None] | None = None,
        drift: DriftMonitor | None = None,
    ) -> None:
        self._settings = settings
        self._process_batch = process_batch
        self._metrics = metrics
        self._readiness = readiness
        self._clock = clock
        self._drift = drift
        # A seam for the fault tests: called with a stage name ("before_commit") and may raise
        # a KafkaException, which then takes the same path as one raised by librdkafka.
        self._fault_injector = fault_injector
        self._stop = threading.Event()
        self._assigned: set[tuple[str, int]] = set()
        self._revoked_during_consume: set[tuple[str, int]] = set()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._exactly_once = settings.delivery == "exactly-once"
        self._timeout = settings.kafka_timeout_s

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

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("the producer exists only while run() runs")
        return self._producer

    def run(self) -> None:
        """Score until asked to stop. Raises FatalKafkaError on a fatal client error."""
        settings = self._settings
        self._producer = Producer({**producer_config(settings), "error_cb": self._on_client_error})
        if self._exactly_once:
            self._init_transactions()
        if self._stop.is_set():
            self._close()
            return
        self._consumer = Consumer(
            {
                **consumer_config(settings),
                "error_cb": self._on_client_error,
                "stats_cb": self._on_stats,
            }
        )
        self._consumer.subscribe(
            [settings.input_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        logger.info(
            "scorer started",
            extra={"delivery": settings.delivery, "transactional_id": settings.transactional_id},
        )
        try:
            while not self._stop.is_set():
                self._run_once()
        finally:
            self._close()

    def _close(self) -> None:
        self._readiness.set_stopping()
        if self._consumer is not None:
            # Leaves the group now, so the partitions move to another member without waiting
            # for the session to time out (at-least-once also commits its stored offsets here).
            with contextlib.suppress(KafkaException, RuntimeError):
                self._consumer.close()
        if self._producer is not None:
            self._producer.flush(self._timeout)
        logger.info("scorer stopped")

    # -- one batch -------------------------------------------------------------------------

    def _run_once(self) -> None:
        consumer = self.consumer
        self._revoked_during_consume.clear()
        polled = consumer.consume(
            num_messages=self._settings.batch_max_events,
            timeout=self._settings.batch_linger_ms / 1000,
        )
        messages = [m for m in polled if self._usable(m)]
        if not messages:
            return
        self._metrics.events_consumed.inc(len(messages))
        self._metrics.batch_events.observe(len(messages))
        outcome = self._process_batch(messages)
        self._metrics.scoring_duration.observe(outcome.scoring_seconds)
        if self._exactly_once:
            committed = self._publish_transactionally(messages, outcome)
        else:
            committed = self._publish_at_least_once(messages, outcome)
        if committed:
            self._readiness.set_broker_reachable(True)
            self._record_outcome(outcome)

    def _usable(self, msg: Message) -> bool:
        error = msg.error()
        if error is not None:
            if error.fatal():
                raise FatalKafkaError(error)
            # Not a record: a transient consumer error (unknown topic while it is being created,
            # broker down). librdkafka recovers by itself; say so and go on.
            logger.warning("consumer error", extra={"kafka_error": error.name()})
            return False
        return (str(msg.topic()), int(msg.partition() or 0)) not in self._revoked_during_consume

    def _record_outcome(self, outcome: BatchOutcome) -> None:
        now = self._clock()
        metrics = self._metrics
        for fact in outcome.scored:
            metrics.events_scored.labels(fact.decision, fact.model_version).inc()
            metrics.probability_of_default.observe(fact.probability_of_default)
            metrics.end_to_end_latency.observe(max(0.0, now - fact.occurred_at_epoch_s))
        for reason in outcome.dead_letter_reasons:
            metrics.dead_letters.labels(reason).inc()
        if self._drift is not None and outcome.drift is not None:
            self._drift.add(outcome.drift)
            self._drift.publish(metrics.population_stability_index)

    # -- exactly once ----------------------------------------------------------------------

    def _init_transactions(self) -> None:
        """Register our transactional.id, fencing any zombie with the same id and aborting its
        open transaction. Retried with backoff while the broker is unreachable, until stopped."""
        if self._with_backoff(
            "init_transactions",
            lambda: self.producer.init_transactions(self._timeout),
            initial_backoff_s=0.5,
            until_stopped=True,
        ):
            self._readiness.set_broker_reachable(True)

    def _publish_transactionally(self, messages: Sequence[Message], outcome: BatchOutcome) -> bool:
        producer, consumer = self.producer, self.consumer
        try:
            self._in_transaction("begin_transaction", producer.begin_transaction)
            for record in outcome.records:
                produce_record(producer, record)
            offsets = batch_next_offsets(messages)
            group = consumer.consumer_group_metadata()
            self._in_transaction(
                "send_offsets_to_transaction",
                lambda: producer.send_offsets_to_transaction(offsets, group, self._timeout),
            )
            self._in_transaction("commit_transaction", self._commit_transaction)
        except _AbortedError:
            self._abort_and_rewind(messages)
            return False
        self._metrics.transactions.labels("committed").inc()
        return True

    def _commit_transaction(self) -> None:
        if self._fault_injector is not None:
            # As with a real commit failure, the batch's records have reached the broker.
            self.producer.flush(self._timeout)
            self._fault_injector("before_commit")
        self.producer.commit_transaction(self._timeout)

    def _in_transaction(self, operation: str, call: Callable[[], Any]) -> None:
        """A call inside the open transaction: abortable errors (and the unclassified ones, as
        the safest choice that keeps running) raise `_AbortedError`; retriable ones retry."""
        self._with_backoff(operation, call, abortable=True)

    def _with_backoff(
        self,
        operation: str,
        call: Callable[[], Any],
        *,
        abortable: bool = False,
        initial_backoff_s: float = 0.2,
        until_stopped: bool = False,
    ) -> bool:
        """librdkafka's documented contract for transactional calls: fatal errors raise
        `FatalKafkaError`, retriable ones are retried with exponential backoff. Returns whether
        the call succeeded (False only when `until_stopped` and a stop was requested).

        Inside a transaction the wait is not cut short by a stop request: the batch in flight
        must still be committed or aborted, not abandoned.
        """
        backoff = initial_backoff_s
        while not (until_stopped and self._stop.is_set()):
            try:
                call()
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.fatal():
                    raise FatalKafkaError(error) from exc
                if abortable and (error.txn_requires_abort() or not error.retriable()):
                    logger.warning(
                        "transaction must be aborted",
                        extra={"operation": operation, "kafka_error": error.name()},
                    )
                    raise _AbortedError from exc
                self._readiness.set_broker_reachable(False, f"{operation}: {error.name()}")
                logger.warning(
                    "Kafka call failed; retrying",
                    extra={
                        "operation": operation,
                        "kafka_error": error.name(),
                        "retry_in_s": backoff,
                    },
                )
                if until_stopped:
                    self._stop.wait(backoff)
                else:
                    time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            else:
                return True
        return False

    def _abort_and_rewind(self, messages: Sequence[Message]) -> None:
        self._with_backoff(
            "abort_transaction", lambda: self.producer.abort_transaction(self._timeout)
        )
        self._metrics.transactions.labels("aborted").inc()
        self._rewind(messages)

    # -- at least once ---------------------------------------------------------------------

    def _publish_at_least_once(self, messages: Sequence[Message], outcome: BatchOutcome) -> bool:
        producer, consumer = self.producer, self.consumer
        failures: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(error)

        for record in outcome.records:
            produce_record(producer, record, on_delivery)
        remaining = producer.flush(self._timeout)
        if remaining or failures:
            logger.warning(
                "batch not fully delivered; reading it again",
                extra={
                    "undelivered": remaining,
                    "failed": len(failures),
                    "kafka_error": failures[0].name() if failures else None,
                },
            )
            self._metrics.transactions.labels("aborted").inc()
            self._rewind(messages)
            return False
        with contextlib.suppress(KafkaException):  # a partition revoked meanwhile: its new
            consumer.store_offsets(offsets=batch_next_offsets(messages))  # owner re-reads it
        self._metrics.transactions.labels("committed").inc()
        return True

    # -- shared ----------------------------------------------------------------------------

    def _rewind(self, messages: Sequence[Message]) -> None:
        """Seek back to the batch's first offsets so it is read and scored again."""
        consumer = self.consumer
        for position in batch_start_offsets(messages):
            if (position.topic, position.partition) not in self._assigned:
                continue  # revoked meanwhile; its new owner resumes from the committed offset
            try:
                consumer.seek(position)
            except KafkaException as exc:
                logger.warning(
                    "could not rewind partition",
                    extra={"partition": position.partition, "kafka_error": str(exc)},
                )

    # -- callbacks (run inside consume(), poll() or flush()) -----------------------------------

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)
        self._readiness.set_assignment("assigned", len(self._assigned))
        logger.info(
            "partitions assigned",
            extra={"partitions": sorted(tp.partition for tp in partitions)},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        if not self._exactly_once and not self._stop.is_set():
            # Stored offsets cover fully delivered batches only; hand them over now.
            with contextlib.suppress(KafkaException):
                consumer.commit(asynchronous=False)
        logger.info(
            "partitions revoked", extra={"partitions": sorted(tp.partition for tp in partitions)}
        )

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        logger.warning(
            "partitions lost", extra={"partitions": sorted(tp.partition for tp in partitions)}
        )

    def _forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._assigned.discard(key)
            self._revoked_during_consume.add(key)
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        self._readiness.set_assignment(
            "assigned" if self._assigned else "pending", len(self._assigned)
        )

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._readiness.set_broker_reachable(False, error.name())
        logger.warning("kafka client error", extra={"kafka_error": error.name()})

    def _on_stats(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)
        except json.JSONDecodeError:
            return
        self._readiness.set_broker_reachable(brokers_up(stats))
        for (topic, partition), lag in consumer_lags(stats).items():
            if (topic, partition) in self._assigned:
                self._metrics.consumer_lag.labels(topic, str(partition)).set(lag)
