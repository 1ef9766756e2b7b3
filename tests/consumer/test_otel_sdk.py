"""Whether the OpenTelemetry SDK is built, from its own environment variables."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import TracerProvider

from consumer.telemetry.otel_sdk import exporter_names, tracer_provider_from_environment


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
