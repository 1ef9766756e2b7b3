"""A batch's trace on plain objects: which outputs carry a child `traceparent`, and with an SDK
(the in-memory exporter) which spans are recorded, with which parents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from consumer.records import BatchOutcome, OutboundRecord, RecordHeaders
from consumer.telemetry.trace_context import parse_traceparent
from consumer.telemetry.tracing import Tracing
from tests.consumer.test_pipeline import FakeMessage

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
UPSTREAM_SPAN = "b7ad6b7169203331"
TRACED: RecordHeaders = [
    ("traceparent", f"00-{TRACE_ID}-{UPSTREAM_SPAN}-01".encode()),
    ("tracestate", b"v=1"),
]


def _out(topic: str, headers: list[tuple[str, str | bytes | None]] | None = None) -> OutboundRecord:
    return OutboundRecord(topic=topic, key=b"k", value=b"v", headers=headers)


def _header(record: OutboundRecord, name: str) -> bytes | None:
    values = [value for key, value in record.headers or () if key == name]
    assert len(values) <= 1, f"{name} written {len(values)} times"
    return values[0] if values and isinstance(values[0], bytes) else None


def test_a_batch_without_sdk_and_without_traced_input_has_no_trace_work() -> None:
    messages = [FakeMessage(b"{}", off=0), FakeMessage(b"{}", off=1, hdrs=[("x", b"1")])]
    assert Tracing().batch(messages, 0) is None


def test_without_sdk_each_traced_inputs_output_carries_a_new_child_of_the_same_trace() -> None:
    messages = [
        FakeMessage(b"{}", off=0),  # untraced: its output is left as it is
        FakeMessage(b"{}", off=1, hdrs=TRACED),  # scored
        FakeMessage(b"{}", off=2, hdrs=TRACED),  # a skipped duplicate: no output
        FakeMessage(b"{}", off=3, hdrs=[*TRACED, ("kafka_dlt-x", b"1")]),  # dead-lettered
    ]
    dead_letter = _out("dlq", [*TRACED, ("kafka_dlt-x", b"1")])
    outcome = BatchOutcome(records=[_out("out"), _out("out"), dead_letter], skipped=(2,))
    trace = Tracing().batch(messages, 0)
    assert trace is not None

    stamped = trace.stamp(outcome).records

    assert stamped[0] == outcome.records[0]
    children = [parse_traceparent(_header(record, "traceparent")) for record in stamped[1:]]
    for child in children:
        assert child is not None
        trace_id, span_id, flags = child
        assert (trace_id, flags) == (TRACE_ID, 1)
        assert span_id != UPSTREAM_SPAN
    assert children[0] != children[1]  # a span per input
    for record in stamped[1:]:
        assert _header(record, "tracestate") == b"v=1"
    assert ("kafka_dlt-x", b"1") in (stamped[2].headers or [])  # the dead letter's own headers


def test_a_malformed_traceparent_leaves_the_output_untouched() -> None:
    messages = [FakeMessage(b"{}", hdrs=[("traceparent", b"00-not-a-trace-01")])]
    assert Tracing().batch(messages, 0) is None


@pytest.fixture
def spans() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Tracing(provider.get_tracer("test"), input_topic="in", output_topic="out"), exporter
    provider.shutdown()


def _named(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in finished if span.name == name]


def test_with_an_sdk_the_header_names_the_recorded_process_span_a_child_of_upstream(
    spans: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = spans
    messages = [FakeMessage(b"{}", off=7, hdrs=TRACED), FakeMessage(b"{}", off=8)]
    trace = tracing.batch(messages, tracing.clock())
    assert trace is not None
    record = trace.stamp(BatchOutcome(records=[_out("out"), _out("out")])).records[0]
    trace.published(True)

    finished = exporter.get_finished_spans()
    [root] = _named(finished, "batch")
    [process] = _named(finished, "process")
    child = parse_traceparent(_header(record, "traceparent"))
    assert child == (TRACE_ID, f"{process.context.span_id:016x}", 1)
    assert process.parent is not None
    assert f"{process.parent.span_id:016x}" == UPSTREAM_SPAN
    assert f"{process.context.trace_id:032x}" == TRACE_ID
    assert process.kind is SpanKind.CONSUMER
    assert [link.context.span_id for link in process.links] == [root.context.span_id]
    assert process.attributes is not None
    assert process.attributes["messaging.kafka.message.offset"] == 7
    assert root.parent is None
    assert root.context.trace_id != process.context.trace_id
    for name, kind in [
        ("consume", SpanKind.CONSUMER),
        ("score", SpanKind.INTERNAL),
        ("publish", SpanKind.PRODUCER),
    ]:
        [span] = _named(finished, name)
        assert span.parent is not None, name
        assert span.parent.span_id == root.context.span_id, name
        assert span.kind is kind
        assert root.start_time is not None
        assert span.start_time is not None
        assert span.end_time is not None
        assert root.end_time is not None
        assert root.start_time <= span.start_time <= span.end_time <= root.end_time
    assert len(finished) == 5


def test_with_an_sdk_an_untraced_batch_records_only_the_batch_spans(
    spans: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = spans
    trace = tracing.batch([FakeMessage(b"{}")], tracing.clock())
    assert trace is not None
    outcome = BatchOutcome(records=[_out("out")])
    assert trace.stamp(outcome).records == outcome.records
    trace.published(True)
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["batch", "consume", "publish", "score"]


def test_a_batch_rolled_back_ends_its_spans_as_errors(
    spans: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = spans
    trace = tracing.batch([FakeMessage(b"{}", hdrs=TRACED)], tracing.clock())
    assert trace is not None
    trace.stamp(BatchOutcome(records=[_out("out")]))
    trace.published(False)
    statuses = {span.name: span.status.status_code for span in exporter.get_finished_spans()}
    assert statuses["process"] is StatusCode.ERROR
    assert statuses["publish"] is StatusCode.ERROR
    assert statuses["batch"] is StatusCode.ERROR
