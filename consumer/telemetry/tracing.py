"""Traces across systems: an input's W3C trace continues in its score's (or dead letter's) headers,
and with an OpenTelemetry SDK configured the scorer records its own spans.

The spans, when an SDK records them (see docs/observability.md for a picture):

- per batch, a root span `batch` with three children, `consume` (the poll), `score` (the
  pipeline) and `publish` (produce and commit): what a batch costs, whether or not any input
  is traced;
- per input that carries a valid `traceparent`, one span `process`, a child of the upstream span
  (same trace id) with a link to its batch; its span id is the one the output's `traceparent`
  names, so the next consumer (the CRM) continues it. Three spans per event would triple the
  tracing cost on the hot path for what the linked batch already shows.

Without an SDK the output's `traceparent` still names a new child span (same trace id, a span
id drawn as the SDK draws one, the upstream's flags): the trace is continued, nobody records
that hop. With neither an SDK nor a traced input a batch costs one header check per event.
Spans are created after the fact with the times the loop noted, so a batch read again after a
failure leaves no span open.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from consumer.records import BatchOutcome, InboundMessage, OutboundRecord, header_list
from consumer.telemetry.trace_context import (
    UpstreamTrace,
    new_span_id,
    traceparent,
    upstream_trace,
    with_trace_headers,
)

INSTRUMENTATION_NAME = "loan-scorer"

# Per traced input: its position in the batch and its upstream trace.
Traced = list[tuple[int, UpstreamTrace]]


class Tracing:
    """One per scorer: `tracer` is None when no SDK is configured (the usual case)."""

    def __init__(
        self,
        tracer: trace.Tracer | None = None,
        *,
        input_topic: str = "",
        output_topic: str = "",
    ) -> None:
        self._tracer = tracer
        self._input_topic = input_topic
        self._output_topic = output_topic

    @property
    def recording(self) -> bool:
        return self._tracer is not None

    def clock(self) -> int:
        """Now in epoch nanoseconds when spans are recorded (their times), else 0 (free)."""
        return time.time_ns() if self._tracer is not None else 0

    def batch(
        self, messages: Sequence[InboundMessage], consume_started_ns: int
    ) -> BatchTrace | None:
        """The trace work of one batch, or None when there is none (no SDK, no traced input)."""
        traced: Traced = []
        for position, message in enumerate(messages):
            headers = message.headers()
            if headers:  # most inputs carry no header: one truth test each
                upstream = upstream_trace(header_list(headers))
                if upstream is not None:
                    traced.append((position, upstream))
        if self._tracer is None:
            return HeadersOnly(traced) if traced else None
        return RecordedBatch(
            self._tracer,
            traced,
            messages,
            consume_started_ns,
            topics=(self._input_topic, self._output_topic),
        )


class BatchTrace:
    """What a batch's trace does once it is scored (`stamp`) and once it is published."""

    def __init__(self, traced: Traced) -> None:
        self._traced = traced

    def stamp(self, outcome: BatchOutcome) -> BatchOutcome:
        """The outcome with each traced input's output (score or dead letter) carrying the
        child's `traceparent`. Outputs are in input order but for skipped duplicates
        (`BatchOutcome`'s promise), which have no output to stamp."""
        if not self._traced:
            return outcome
        index = _output_index(len(outcome.records) + len(outcome.skipped), outcome.skipped)
        records = list(outcome.records)
        for position, upstream in self._traced:
            at = index[position]
            if at is None:
                continue
            records[at] = _stamped(records[at], self._child(position, upstream), upstream)
        return replace(outcome, records=records)

    def _child(self, position: int, upstream: UpstreamTrace) -> bytes:
        raise NotImplementedError

    def published(self, ok: bool) -> None:
        """The batch was published (and committed) or rolled back to be read again."""


class HeadersOnly(BatchTrace):
    """No SDK: the child span exists only in the headers."""

    def _child(self, position: int, upstream: UpstreamTrace) -> bytes:
        del position
        return traceparent(upstream.trace_id, new_span_id(), upstream.flags)


class RecordedBatch(BatchTrace):
    """An SDK records the batch's spans and each traced input's `process` span."""

    def __init__(
        self,
        tracer: trace.Tracer,
        traced: Traced,
        messages: Sequence[InboundMessage],
        consume_started_ns: int,
        *,
        topics: tuple[str, str],
    ) -> None:
        super().__init__(traced)
        self._tracer = tracer
        self._messages = messages
        self._input_topic, self._output_topic = topics
        self._consume_started_ns = consume_started_ns
        self._consumed_ns = time.time_ns()
        self._scored_ns = self._consumed_ns
        self._root: trace.Span | None = None
        self._links: list[Link] = []  # to the batch, from each `process` span
        self._events: list[trace.Span] = []

    def stamp(self, outcome: BatchOutcome) -> BatchOutcome:
        self._scored_ns = time.time_ns()
        root = self._tracer.start_span(
            "batch",
            context=Context(),  # a root: a batch mixes inputs of many traces
            start_time=self._consume_started_ns,
            attributes={
                "messaging.batch.message_count": len(self._messages),
                "loan_scorer.traced_inputs": len(self._traced),
            },
        )
        self._root = root
        in_root = trace.set_span_in_context(root)
        self._tracer.start_span(
            "consume",
            context=in_root,
            kind=SpanKind.CONSUMER,
            start_time=self._consume_started_ns,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self._input_topic,
            },
        ).end(self._consumed_ns)
        self._tracer.start_span("score", context=in_root, start_time=self._consumed_ns).end(
            self._scored_ns
        )
        self._links = [Link(root.get_span_context())]
        return super().stamp(outcome)

    def _child(self, position: int, upstream: UpstreamTrace) -> bytes:
        message = self._messages[position]
        span = self._tracer.start_span(
            "process",
            context=_upstream_context(upstream),
            kind=SpanKind.CONSUMER,
            start_time=self._consume_started_ns,
            links=self._links,
            attributes={
                "messaging.kafka.destination.partition": message.partition() or 0,
                "messaging.kafka.message.offset": message.offset() or 0,
            },
        )
        self._events.append(span)
        context = span.get_span_context()
        return traceparent(
            f"{context.trace_id:032x}", f"{context.span_id:016x}", context.trace_flags
        )

    def published(self, ok: bool) -> None:
        if self._root is None:
            return
        end = time.time_ns()
        status = Status(StatusCode.OK) if ok else Status(StatusCode.ERROR, "batch rolled back")
        publish = self._tracer.start_span(
            "publish",
            context=trace.set_span_in_context(self._root),
            kind=SpanKind.PRODUCER,
            start_time=self._scored_ns,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self._output_topic,
            },
        )
        publish.set_status(status)
        publish.end(end)
        for span in self._events:
            if not ok:
                span.set_status(status)
            span.end(end)
        self._root.set_status(status)
        self._root.end(end)


def _upstream_context(upstream: UpstreamTrace) -> Context:
    state = (
        TraceState.from_header([upstream.tracestate.decode("ascii", errors="replace")])
        if upstream.tracestate
        else None
    )
    parent = SpanContext(
        trace_id=int(upstream.trace_id, 16),
        span_id=int(upstream.parent_span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(upstream.flags),
        trace_state=state,
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def _output_index(inputs: int, skipped: Sequence[int]) -> list[int | None]:
    """Input position -> index of its output record (None: a skipped duplicate has none)."""
    if not skipped:
        return list(range(inputs))
    gone = set(skipped)
    index: list[int | None] = []
    at = 0
    for position in range(inputs):
        if position in gone:
            index.append(None)
        else:
            index.append(at)
            at += 1
    return index


def _stamped(record: OutboundRecord, child: bytes, upstream: UpstreamTrace) -> OutboundRecord:
    """`dataclasses.replace` by hand: it costs a few microseconds per call, this one."""
    return OutboundRecord(
        topic=record.topic,
        key=record.key,
        value=record.value,
        headers=with_trace_headers(record.headers, child, upstream.tracestate),
        timestamp_ms=record.timestamp_ms,
        partition=record.partition,
        event_id=record.event_id,
    )
