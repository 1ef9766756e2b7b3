"""`loan-scorer outcomes`: the second consumer group, joining every score to its real outcome.

It reads, read_committed, the scores (output topic: champion and canary), the shadow scores, the
applications (for the loan amount and the applicant's bounded groups) and the outcomes, writes
them by key into its store together with the offsets they were read up to (one SQLite transaction
per batch, consumer/outcomes/store.py), and every `LOAN_SCORER_OUTCOMES_METRICS_INTERVAL_S`
recomputes the realised metrics of each model version and role from the joined pairs
(consumer/outcomes/metrics.py), served on `LOAN_SCORER_OUTCOMES_HTTP_PORT` at /metrics.

Where it resumes is the store's offsets, set in the assignment callback; the offsets it also
commits to Kafka (after the store) exist only so that the group's lag can be watched.

A consumer error no wait fixes (a topic it may not read, a group it may not join) has the retry
bound of every loop (consumer/outcomes/consume_errors.py): `loan_scorer_retry_stalled{loop=
"outcomes"}` past LOAN_SCORER_RETRY_UNREADY_AFTER_S, exit 1 past LOAN_SCORER_RETRY_EXIT_AFTER_S.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry, start_http_server

from consumer.config.settings import Settings
from consumer.kafka.config import SESSION_TIMEOUT_MS, ClientConfig, client_logging
from consumer.kafka.errors import StopScoringError
from consumer.kafka.retry_bound import RetryBound
from consumer.outcomes.consume_errors import ConsumeErrors, counts
from consumer.outcomes.join import JoinRecord, Stream, store_batch
from consumer.outcomes.metrics import RealisedMetrics
from consumer.outcomes.store import OutcomeStore
from consumer.records import MonotonicClock
from impact.pairs import write_pairs

logger = logging.getLogger(__name__)

BATCH_MAX_RECORDS = 2_000


def outcomes_consumer_config(settings: Settings) -> ClientConfig:
    return {
        "session.timeout.ms": SESSION_TIMEOUT_MS,  # a killed joiner's partitions move on sooner
        **settings.kafka_common_config(),
        "group.id": settings.outcomes_group_id,
        "client.id": f"loan-scorer-outcomes-{settings.instance_id}",
        # Eager assignment, so the assignment callback can start each partition at the store's
        # offset with assign().
        "partition.assignment.strategy": "range",
        "isolation.level": "read_committed",  # never a score of an aborted transaction
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # The shadow and outcomes topics may appear after the joiner starts.
        "topic.metadata.refresh.interval.ms": 5_000,
        **client_logging(),  # librdkafka's lines as JSON
    }


class OutcomesJoiner:
    """The consume, store, publish loop; `run()` in the main thread, `request_stop()` from a
    signal handler."""

    def __init__(
        self,
        settings: Settings,
        store: OutcomeStore,
        metrics: RealisedMetrics,
        *,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._stop = threading.Event()
        self._streams: dict[str, Stream] = {
            settings.output_topic: "scores",
            settings.shadow_topic: "shadow",
            settings.input_topic: "applications",
            settings.outcomes_topic: "outcomes",
        }
        self._consumer: Consumer | None = None
        self._errors = ConsumeErrors(
            RetryBound(
                "outcomes",
                unready_after_s=settings.retry_unready_after_s,
                exit_after_s=settings.retry_exit_after_s,
                readiness=None,  # no readiness probe: the metric, the log line, the exit
                metrics=metrics,
                clock=clock,
            ),
            clock=clock,
            unready_after_s=settings.retry_unready_after_s,
        )
        self._stale = True
        self._published_at = -float("inf")

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        consumer = Consumer(outcomes_consumer_config(self._settings))
        self._consumer = consumer
        consumer.subscribe(list(self._streams), on_assign=self._on_assign)
        logger.info("outcomes joiner started", extra={"topics": sorted(self._streams)})
        try:
            self.publish()
            while not self._stop.is_set():
                self.run_once()
            self.publish()
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
            logger.info("outcomes joiner stopped")

    def run_once(self) -> None:
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("run_once() runs inside run()")
        records: list[JoinRecord] = []
        for message in consumer.consume(BATCH_MAX_RECORDS, timeout=0.5):
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                if counts(error.code()):
                    self._errors.error(message.topic(), error.name(), error.code())
                if error.code() != KafkaError._PARTITION_EOF:
                    logger.warning(
                        "consumer error",
                        extra={"kafka_error": error.name(), "topic": message.topic()},
                    )
                continue
            topic = str(message.topic())
            records.append(
                JoinRecord(
                    stream=self._streams[topic],
                    topic=topic,
                    partition=int(message.partition() or 0),
                    offset=int(message.offset() or 0),
                    value=message.value(),
                )
            )
        self._errors.read(record.topic for record in records)
        self._errors.judge()  # past the exit bound: RetryBoundExceeded
        if records:
            batch, invalid = store_batch(records)
            self._store.apply(batch)  # rows and offsets: one transaction
            for record in records:
                self._metrics.records.labels(record.stream).inc()
            for stream, count in invalid.items():
                self._metrics.invalid_records.labels(stream).inc(count)
            self._stale = True
            with contextlib.suppress(KafkaException):  # only a lag gauge for ops
                consumer.commit(
                    offsets=[
                        TopicPartition(topic, partition, offset)
                        for (topic, partition), offset in batch.next_offsets.items()
                    ],
                    asynchronous=True,
                )
        if self._stale and self._clock() - self._published_at >= self._interval_s:
            self.publish()

    @property
    def _interval_s(self) -> float:
        return self._settings.outcomes_metrics_interval_s

    def publish(self) -> None:
        """Recompute every realised metric from the store's joined pairs."""
        started = time.perf_counter()
        self._metrics.publish(self._store.pairs())
        self._metrics.refresh_seconds.set(time.perf_counter() - started)
        self._published_at = self._clock()
        self._stale = False

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self._store.next_offsets((tp.topic, tp.partition) for tp in partitions)
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        self._errors.assigned(tp.topic for tp in partitions)
        logger.info(
            "partitions assigned from the store's offsets",
            extra={"partitions": len(partitions), "resumed": len(stored)},
        )


def export_pairs(store_path: Path, out: Path) -> int:
    """The store's joined pairs as a file of the `impact.pairs` contract; returns how many.
    Safe beside a running joiner: SQLite readers see the last committed batch."""
    if not store_path.is_file():
        raise FileNotFoundError(f"no outcomes store at {store_path}")
    store = OutcomeStore(store_path)
    try:
        pairs = store.pairs()
    finally:
        store.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_pairs(pairs, out)
    return len(pairs)


def run_outcomes(settings: Settings) -> int:
    """Exit codes: 0 after SIGTERM/SIGINT, 1 on a fatal Kafka error or a consumer error that
    outlasted LOAN_SCORER_RETRY_EXIT_AFTER_S."""
    registry = CollectorRegistry()
    metrics = RealisedMetrics(registry)
    server, _thread = start_http_server(
        settings.outcomes_http_port, addr=settings.http_host, registry=registry
    )
    store = OutcomeStore(settings.outcomes_store)
    joiner = OutcomesJoiner(settings, store, metrics)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        joiner.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        joiner.run()
    except (KafkaException, StopScoringError) as error:
        logger.critical("cannot go on; exiting for a restart", extra={"error": str(error)})
        return 1
    finally:
        store.close()
        server.shutdown()
    return 0
