"""Produces a batch's outputs, one per input, and never lets one refused record stall a partition.

A record the client or broker refuses for a reason of its own that will not go away by itself
(too large, a timestamp out of bounds, a broker policy: `PERMANENT_RECORD_ERRORS`) is counted
against its input's position. Once an input's output has been refused `max_attempts` times (at
once, if `produce()` itself refuses it), later attempts of the batch write its truncated dead
letter instead; once that has been refused `max_attempts` times too, the batch cannot be written
and the loop stops (`UnwritableRecordError`, naming the input's position), before any offset
moves past it.

A score replaced by its truncated dead letter was never published: its event id is taken out of
the batch's changelog record (`replaced_scores` names it, so the loop unstages it from the state
store and counts no decision), or an upstream retry of the event would be skipped as a duplicate
of a score nobody received.

Transient failures (a broker away, a timeout) count nothing here: the delivery mode retries the
whole batch, bounded in time per attempt, and the loop bounds the attempts (runtime/retry_bound.py).
A topic-wide refusal (a deleted topic: UNKNOWN_TOPIC_OR_PART; an ACL: TOPIC_AUTHORIZATION_FAILED)
is not a record's fault: dead-lettering every score because the output topic is gone or closed
to us would hide the fault behind a dead-letter topic, so it is retried like an outage until
that bound makes the scorer unready, then stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumer.delivery.truncated_dead_letter import truncated_dead_letter
from consumer.kafka.calls import kafka_error
from consumer.kafka.errors import BatchAborted, FatalKafkaError, UnwritableRecordError
from consumer.kafka.offsets import Position, RecordPosition, position_of
from consumer.kafka.produce import QueueFullError, produce_record
from consumer.pipeline.dedup import changelog_value_without
from consumer.records import BatchOutcome, InboundMessage, OutboundRecord, UtcClock, utc_now
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.trace_context import trace_headers_of

logger = logging.getLogger(__name__)

MAX_RECORD_ATTEMPTS = 3

PERMANENT_RECORD_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_TIMESTAMP,
        KafkaError.INVALID_RECORD,
        KafkaError.POLICY_VIOLATION,
        KafkaError._INVALID_ARG,
    }
)


@dataclass
class _Refusals:
    """How often an input's output, then its truncated dead letter, was refused, and why."""

    output: int = 0
    fallback: int = 0
    last_error: str = ""
    output_topic: str = ""


class BatchWriter:
    def __init__(
        self,
        producer: Producer,
        *,
        dlq_topic: str,
        metrics: ScorerMetrics,
        max_attempts: int = MAX_RECORD_ATTEMPTS,
        clock: UtcClock = utc_now,
    ) -> None:
        self._producer = producer
        self._dlq_topic = dlq_topic
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._clock = clock
        self._refusals: dict[RecordPosition, _Refusals] = {}
        self.failed_deliveries = 0  # in the current attempt, whatever the reason
        self.last_delivery_error: str | None = None
        # (input partition, event id) of the scores replaced by truncated dead letters in the
        # current attempt: left out of its changelog.
        self.replaced_scores: set[tuple[int, str]] = set()
        self.topics_written: set[str] = set()  # in the current attempt: what to diagnose

    def write(
        self,
        messages: Sequence[InboundMessage],
        outcome: BatchOutcome,
        deadline: float,
        *,
        changelog: bool = True,
    ) -> None:
        """Produce one output per input but the skipped upstream duplicates, then the
        changelog of scored ids and any shadow scores (delivery is reported later, in flush or
        commit)."""
        skipped = set(outcome.skipped)
        kept = [message for i, message in enumerate(messages) if i not in skipped]
        if len(outcome.records) != len(kept):
            raise ValueError(f"{len(outcome.records)} outputs for {len(kept)} inputs")
        self.failed_deliveries = 0
        self.last_delivery_error = None
        self.replaced_scores = set()
        self.topics_written = {record.topic for record in outcome.records}
        self._write_outputs(kept, outcome.records, deadline)
        if changelog:
            self.write_changelog(messages, outcome, deadline)
        for record in outcome.shadow:
            self._write_changelog(record, position_of(messages[0]), deadline)

    def _write_outputs(
        self,
        messages: Sequence[InboundMessage],
        records: Sequence[OutboundRecord],
        deadline: float,
    ) -> None:
        for message, record in zip(messages, records, strict=True):
            position = position_of(message)
            refusals = self._refusals.get(position)
            if refusals is not None and refusals.output >= self._max_attempts:
                self._write_fallback(message, position, refusals, deadline, record)
                self._replaced(position, record)
                continue
            try:
                self._produce(record, position, fallback=False, deadline=deadline)
            except KafkaException as exc:
                error = self._classify_local(exc, f"produce to {record.topic}")
                refusals = self._refusals.setdefault(position, _Refusals())
                refusals.output = self._max_attempts  # the client refuses it now and forever
                self._refused(position, refusals, error.name(), record.topic)
                self._write_fallback(message, position, refusals, deadline, record)
                self._replaced(position, record)

    def _replaced(self, position: RecordPosition, record: OutboundRecord) -> None:
        if record.event_id is not None:  # a score (a dead letter's input has no id to forget)
            self.replaced_scores.add((position[1], record.event_id))

    def write_changelog(
        self, messages: Sequence[InboundMessage], outcome: BatchOutcome, deadline: float
    ) -> None:
        """The batch's scored ids (`write` does it unless told not to: at-least-once writes them
        only once the scores are delivered), without the ids of scores replaced by truncated
        dead letters."""
        for record in outcome.changelog:
            kept = self._without_replaced(record)
            if kept is not None:
                self._write_changelog(kept, position_of(messages[0]), deadline)

    def _without_replaced(self, record: OutboundRecord) -> OutboundRecord | None:
        gone = {
            event_id
            for partition, event_id in self.replaced_scores
            if partition == record.partition
        }
        if not gone or record.value is None:
            return record
        value = changelog_value_without(record.value, gone)
        return None if value is None else replace(record, value=value)

    def _write_changelog(
        self, record: OutboundRecord, batch: RecordPosition, deadline: float
    ) -> None:
        """A scored id or a shadow score. Not a record of an input: refused outright, its topic
        is misconfigured (an ACL, a deleted topic) and scoring stops rather than forget ids or
        lose a challenger's scores; a failed delivery fails the attempt, which the delivery mode
        retries."""

        def on_delivery(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                self.failed_deliveries += 1
                self.last_delivery_error = f"{record.topic}: {error.name()}"

        self.topics_written.add(record.topic)
        try:
            produce_record(self._producer, record, on_delivery, deadline)
        except QueueFullError:
            raise BatchAborted(f"produce to {record.topic}", "_QUEUE_FULL") from None
        except KafkaException as exc:
            error = self._classify_local(exc, f"produce to {record.topic}")
            raise UnwritableRecordError(*batch, f"{record.topic}: {error.name()}") from exc

    def adopt(self, previous: BatchWriter) -> None:
        """Carry the refusals counted by the writer of a replaced producer."""
        self._refusals.update(previous._refusals)

    def forget(self, messages: Iterable[InboundMessage]) -> None:
        """The batch is committed: its inputs' refusals are history."""
        for message in messages:
            self._refusals.pop(position_of(message), None)

    def forget_partitions(self, partitions: Iterable[Position]) -> None:
        gone = set(partitions)
        for position in [p for p in self._refusals if (p[0], p[1]) in gone]:
            del self._refusals[position]

    def _write_fallback(
        self,
        message: InboundMessage,
        position: RecordPosition,
        refusals: _Refusals,
        deadline: float,
        refused: OutboundRecord,
    ) -> None:
        if refusals.fallback >= self._max_attempts:
            raise UnwritableRecordError(*position, refusals.last_error)
        record = truncated_dead_letter(
            message,
            dlq_topic=self._dlq_topic,
            refused_topic=refusals.output_topic,
            refusal=refusals.last_error,
            failed_at=self._clock(),
            trace_headers=trace_headers_of(refused.headers),
        )
        self.topics_written.add(record.topic)
        try:
            self._produce(record, position, fallback=True, deadline=deadline)
        except KafkaException as exc:
            error = self._classify_local(exc, f"produce to {record.topic}")
            raise UnwritableRecordError(*position, f"produce: {error.name()}") from exc

    def _classify_local(self, exc: KafkaException, operation: str) -> KafkaError:
        """produce() raised: permanent refusals are the record's; anything else is the batch's."""
        error = kafka_error(exc)
        if error.fatal():
            raise FatalKafkaError(error, operation) from exc
        if error.code() not in PERMANENT_RECORD_ERRORS:
            raise BatchAborted(operation, error.name()) from exc
        return error

    def _produce(
        self, record: OutboundRecord, position: RecordPosition, *, fallback: bool, deadline: float
    ) -> None:
        def on_delivery(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                self._delivery_failed(position, error, record.topic, fallback=fallback)

        try:
            produce_record(self._producer, record, on_delivery, deadline)
        except QueueFullError:
            raise BatchAborted(f"produce to {record.topic}", "_QUEUE_FULL") from None

    def _delivery_failed(
        self, position: RecordPosition, error: KafkaError, topic: str, *, fallback: bool
    ) -> None:
        self.failed_deliveries += 1
        self.last_delivery_error = f"{topic}: {error.name()}"
        if error.code() not in PERMANENT_RECORD_ERRORS:
            return
        refusals = self._refusals.setdefault(position, _Refusals())
        if fallback:
            refusals.fallback += 1
            refusals.last_error = f"{topic}: {error.name()}"
            return
        refusals.output += 1
        if refusals.output >= self._max_attempts:
            self._refused(position, refusals, error.name(), topic)
        else:
            refusals.last_error = error.name()

    def _refused(
        self, position: RecordPosition, refusals: _Refusals, error_name: str, topic: str
    ) -> None:
        refusals.last_error = error_name
        refusals.output_topic = topic
        self._metrics.undeliverable_records.inc()
        logger.error(
            "output refused; its input will be dead-lettered truncated",
            extra={
                "topic": position[0],
                "partition": position[1],
                "offset": position[2],
                "output_topic": topic,
                "kafka_error": error_name,
            },
        )
