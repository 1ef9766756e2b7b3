"""The OpenTelemetry SDK as its own environment variables configure it, or none at all.

No setting of ours: ops set the variables every OpenTelemetry SDK reads (`OTEL_SERVICE_NAME`,
`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_EXPORTER`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
`OTEL_SDK_DISABLED`, ...) and the SDK reads them itself; this module only decides whether to
build a tracer provider and which exporters to give it. Unlike the SDK's auto-configuration, an
unset `OTEL_TRACES_EXPORTER` with no OTLP endpoint means no tracing rather than OTLP to
localhost: a scorer deployed without a collector should not log a failed export every few
seconds. Spans leave through a `BatchSpanProcessor`, off the hot path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Final

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "loan-scorer"
TRACESTATE_PARSER_LOGGER: Final = "opentelemetry.trace.span"
# The exporters this image ships; "otlp" is OTLP over HTTP/protobuf (port 4318).
EXPORTERS = frozenset({"otlp", "otlp_proto_http", "console"})


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The trace exporters the environment asks for; empty means tracing is off.

    Off when `OTEL_SDK_DISABLED` is true, or `OTEL_TRACES_EXPORTER` is `none`, or it is unset
    and no OTLP endpoint is set either. Raises ValueError for an exporter this image lacks (a
    typo should stop the start, not silently drop every span), and for OTLP over gRPC."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    raw = env.get("OTEL_TRACES_EXPORTER")
    if raw is None or not raw.strip():
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = ["otlp"] if endpoint else []
    else:
        names = [name.strip() for name in raw.split(",") if name.strip() not in ("", "none")]
    unknown = sorted(set(names) - EXPORTERS)
    if unknown:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}; this scorer ships "
            f"{', '.join(sorted(EXPORTERS))} (or none)"
        )
    if "otlp" in names or "otlp_proto_http" in names:
        protocol = (
            env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        if protocol != "http/protobuf":
            raise ValueError(
                f"OTLP protocol {protocol!r}: this scorer exports OTLP over http/protobuf only"
            )
    return list(dict.fromkeys(names))


def tracer_provider_from_environment(env: Mapping[str, str]) -> TracerProvider | None:
    """A provider exporting in batches to the exporters `env` names, or None (tracing off)."""
    names = exporter_names(env)
    if not names:
        return None
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)  # OTEL_TRACES_SAMPLER, span limits
    # The API warns once per malformed `tracestate` member it parses, quoting it: an upstream
    # sending one on every event would write a line per event of text it chose.
    logging.getLogger(TRACESTATE_PARSER_LOGGER).setLevel(logging.ERROR)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))  # OTEL_BSP_*
    logger.info(
        "tracing on",
        extra={"exporters": names, "service_name": resource.attributes.get(SERVICE_NAME)},
    )
    return provider


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    # Imported only when asked for: it pulls in requests and protobuf.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT


# How long a stopping scorer waits for its queued spans to leave. The SDK waits up to 30 s per
# exporter (OTEL_BSP_EXPORT_TIMEOUT), after the loop's own shutdown bound: with a collector away,
# Kubernetes' grace period would run out and the pod would end by SIGKILL, not its exit code.
SHUTDOWN_EXPORT_BOUND_S: Final = 5.0


def shut_down_within(provider: TracerProvider, bound_s: float = SHUTDOWN_EXPORT_BOUND_S) -> bool:
    """Shut `provider` down (exporting what is queued), waiting at most `bound_s`; False, with a
    warning, when the export had not finished (its thread is a daemon: the process still exits)."""
    worker = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
    worker.start()
    worker.join(bound_s)
    if worker.is_alive():
        logger.warning(
            "spans still queued at exit were not all exported",
            extra={"waited_s": bound_s},
        )
        return False
    return True
