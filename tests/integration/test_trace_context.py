"""A `traceparent` sent upstream is continued in the score's and the dead letter's headers, through
the real broker and the real loop; with an SDK configured (the in-memory exporter), the spans the
scorer exports name the same ids as the headers it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from consumer.telemetry.trace_context import parse_traceparent
from consumer.telemetry.tracing import Tracing
from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.errors import DeadLetterReason
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import make_topics, running_scorer, scorer_settings
from tests.kafka_io import Record, consume

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{UPSTREAM_SPAN}-01".encode()
Headers = list[tuple[str, str | bytes | None]]


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, Headers]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def _inputs() -> list[tuple[bytes, bytes, Headers]]:
    """A traced valid event, a traced invalid one, one with a malformed traceparent, one bare."""
    traced, malformed, bare = demo_events(3)
    return [
        (traced.key, traced.value, [("traceparent", TRACEPARENT), ("tracestate", b"up=1")]),
        (b"app-broken", b"{not json", [("traceparent", TRACEPARENT), ("origin", b"crm")]),
        (malformed.key, malformed.value, [("traceparent", b"00-xyz-01")]),
        (bare.key, bare.value, []),
    ]


def _headers(record: Record, name: str) -> list[bytes]:
    return [value for key, value in record.headers if key == name]


def _child(record: Record) -> tuple[str, str, int]:
    [value] = _headers(record, "traceparent")
    child = parse_traceparent(value)
    assert child is not None, value
    return child


def _score_and_dead_letter(
    bootstrap: str, topics_in: str, out: str, dlq: str, group_id: str
) -> tuple[dict[bytes | None, Record], Record]:
    _produce(bootstrap, topics_in, _inputs())
    scores = consume(bootstrap, out, expected=3, group_id=group_id + "-out")
    [dead] = consume(bootstrap, dlq, expected=1, group_id=group_id + "-dlq")
    return {record.key: record for record in scores}, dead


def test_a_traceparent_sent_upstream_is_continued_in_the_score_and_the_dead_letter(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    topics = make_topics(create_topic, partitions=1)
    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir)
    traced, _, malformed, bare = (key for key, _, _ in _inputs())
    with running_scorer(settings):
        scores, dead = _score_and_dead_letter(
            kafka_bootstrap, topics.input, topics.output, topics.dlq, group_id
        )

    assert len(scores) == 3  # the malformed traceparent was scored like any other input
    score_child = _child(scores[traced])
    dead_child = _child(dead)
    for trace_id, span_id, flags in (score_child, dead_child):
        assert (trace_id, flags) == (TRACE_ID, 1)
        assert span_id != UPSTREAM_SPAN
    assert score_child[1] != dead_child[1]
    assert _headers(scores[traced], "tracestate") == [b"up=1"]
    # The dead letter keeps its input's other headers and says why, as before.
    assert _headers(dead, "origin") == [b"crm"]
    assert parse_dead_letter_headers(list(dead.headers)).reason is DeadLetterReason.INVALID_JSON
    for key in (malformed, bare):
        assert _headers(scores[key], "traceparent") == []


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(spans))  # as the service exports them
    yield provider, spans
    provider.shutdown()


def test_with_an_sdk_the_exported_spans_are_the_ones_the_headers_name(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    exporter: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, spans = exporter
    topics = make_topics(create_topic, partitions=1)
    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir)
    tracing = Tracing(
        provider.get_tracer("test"), input_topic=topics.input, output_topic=topics.output
    )
    traced = _inputs()[0][0]
    with running_scorer(settings, tracing=tracing):
        scores, dead = _score_and_dead_letter(
            kafka_bootstrap, topics.input, topics.output, topics.dlq, group_id
        )
    assert provider.force_flush(10_000)
    finished = spans.get_finished_spans()

    process = {f"{span.context.span_id:016x}": span for span in finished if span.name == "process"}
    for record in (scores[traced], dead):
        trace_id, span_id, _ = _child(record)
        span = process[span_id]  # the header names a span the scorer exported
        assert f"{span.context.trace_id:032x}" == trace_id == TRACE_ID
        assert span.parent is not None
        assert f"{span.parent.span_id:016x}" == UPSTREAM_SPAN
        [link] = span.links
        batch = _by_id(finished, link.context.span_id)
        assert batch.name == "batch"
        children = sorted(
            s.name
            for s in finished
            if s.parent is not None and s.parent.span_id == batch.context.span_id
        )
        assert children == ["consume", "publish", "score"]


def _by_id(spans: tuple[ReadableSpan, ...], span_id: int) -> ReadableSpan:
    [span] = [span for span in spans if span.context.span_id == span_id]
    return span
