"""Whether the OpenTelemetry SDK is built, from its own environment variables."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from consumer.telemetry.otel_sdk import (
    exporter_names,
    shut_down_within,
    tracer_provider_from_environment,
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),  # nothing configured: no tracing, no export to a collector nobody runs
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console,otlp"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, []),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "TRUE"}, []),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}, ["console"]),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            ["otlp"],
        ),
    ],
)
def test_tracing_is_on_only_when_an_exporter_or_an_endpoint_is_named(
    env: dict[str, str], expected: list[str]
) -> None:
    assert exporter_names(env) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_EXPORTER": "jaeger"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
    ],
)
def test_an_exporter_this_image_lacks_stops_the_start_naming_it(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"jaeger|grpc"):
        exporter_names(env)


def test_no_provider_when_tracing_is_off() -> None:
    assert tracer_provider_from_environment({}) is None


def test_the_service_name_is_the_environments_or_loan_scorer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK reads OTEL_SERVICE_NAME from the process environment itself."""
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    env = {"OTEL_TRACES_EXPORTER": "console"}
    default = tracer_provider_from_environment(env)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "scorer-eu")
    named = tracer_provider_from_environment(env)
    assert isinstance(default, TracerProvider)
    assert isinstance(named, TracerProvider)
    try:
        assert default.resource.attributes[SERVICE_NAME] == "loan-scorer"
        assert named.resource.attributes[SERVICE_NAME] == "scorer-eu"
    finally:
        default.shutdown()
        named.shutdown()


class _StuckExporter(SpanExporter):
    """A collector that never answers: each export blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        return SpanExportResult.SUCCESS


def test_shutting_down_with_a_collector_away_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """The SDK alone would wait up to 30 s here, after the loop's own shutdown bound."""
    exporter = _StuckExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
    provider.get_tracer("t").start_span("s").end()
    try:
        started = time.monotonic()
        assert shut_down_within(provider, bound_s=0.5) is False
        assert time.monotonic() - started < 5
        assert "spans still queued at exit were not all exported" in caplog.text
    finally:
        exporter.release.set()


def test_shutting_down_exports_what_is_queued() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    provider.get_tracer("t").start_span("s").end()

    assert shut_down_within(provider, bound_s=5) is True
    assert [span.name for span in exporter.get_finished_spans()] == ["s"]


def test_a_malformed_tracestate_writes_no_line_per_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Upstream text, on every event, at the event rate: not in our logs."""
    from consumer.telemetry.trace_context import UpstreamTrace
    from consumer.telemetry.tracing import _upstream_context

    provider = tracer_provider_from_environment({"OTEL_TRACES_EXPORTER": "console"})
    assert provider is not None
    upstream = UpstreamTrace("1" * 32, "2" * 16, 1, tracestate=b"not a w3c member!!")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            _upstream_context(upstream)
    assert "not a w3c member" not in caplog.text
