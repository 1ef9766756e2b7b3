"""W3C Trace Context in Kafka record headers: read the `traceparent` an input carries, write the
one its score or dead letter carries.

Pure and without OpenTelemetry: the scorer continues an upstream trace whether or not an SDK is
configured, so the parsing and the header layout live here and cost what a regular expression
costs (about a microsecond; the API's propagator takes four, and builds a `Context` we would
throw away when no SDK records spans). A value the W3C format refuses is ignored as if absent:
never a crash, never a dead letter because of a header that is only there to be followed.

The parser accepts what opentelemetry's `TraceContextTextMapPropagator` accepts (a differential
test holds the two together): version 00 exactly, later versions with any suffix, never `ff`,
ids of lowercase hex and not all zeros, spaces or tabs around the value.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from consumer.records import RecordHeaders

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
# The W3C limit a vendor must keep to; a longer tracestate is dropped, not forwarded (the spec
# allows either), so an upstream cannot grow every score and dead letter by an unbounded header.
MAX_TRACESTATE_BYTES: Final = 512
# The propagator refuses longer values before it matches them; so do we.
MAX_TRACEPARENT_CHARS: Final = 512

_FORMAT: Final = re.compile(
    r"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]*"
)
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
_TRACE_HEADERS: Final = frozenset({TRACEPARENT, TRACESTATE})


@dataclass(frozen=True, slots=True)
class UpstreamTrace:
    """The trace an input record belongs to: its producer's span is our parent."""

    trace_id: str  # 32 lowercase hex digits
    parent_span_id: str  # 16 lowercase hex digits
    flags: int  # bit 0: sampled upstream
    tracestate: bytes | None = None  # passed through unchanged, at most MAX_TRACESTATE_BYTES


def parse_traceparent(value: str | bytes | None) -> tuple[str, str, int] | None:
    """(trace id, parent span id, flags) of a valid `traceparent` value, else None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if len(value) > MAX_TRACEPARENT_CHARS:
        return None
    match = _FORMAT.fullmatch(value)
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN or version == "ff":
        return None
    if version == "00" and rest:
        return None
    return trace_id, span_id, int(flags, 16)


def upstream_trace(
    headers: Sequence[tuple[str, str | bytes | None]] | None,
) -> UpstreamTrace | None:
    """The trace of an input record: its first `traceparent`, if valid, with its `tracestate`
    (several `tracestate` headers are joined with commas, as HTTP combines them). W3C: a
    `tracestate` without a valid `traceparent` is not read."""
    if not headers:
        return None
    parent: tuple[str, str, int] | None = None
    states: list[bytes] = []
    seen_parent = False
    for name, value in headers:
        if name == TRACEPARENT and not seen_parent:
            seen_parent = True
            parent = parse_traceparent(value)
        elif name == TRACESTATE and value:
            states.append(value.encode() if isinstance(value, str) else value)
    if parent is None:
        return None
    state = b",".join(states) if states else None
    if state is not None and len(state) > MAX_TRACESTATE_BYTES:
        state = None
    return UpstreamTrace(*parent, tracestate=state)


def new_span_id() -> str:
    """A random non-zero span id, as the SDK's `RandomIdGenerator` draws one (64 random bits),
    for the child span of a trace no SDK records."""
    while True:
        span_id = random.getrandbits(64)
        if span_id:
            return f"{span_id:016x}"


def traceparent(trace_id: str, span_id: str, flags: int) -> bytes:
    """A version-00 `traceparent` value."""
    return f"00-{trace_id}-{span_id}-{flags:02x}".encode()


def with_trace_headers(
    headers: Sequence[tuple[str, str | bytes | None]] | None,
    child_traceparent: bytes,
    tracestate: bytes | None,
) -> RecordHeaders:
    """`headers` with any trace context replaced by the child's: a dead letter keeps its input's
    other headers, but its `traceparent` names the scorer's span, not the producer's."""
    kept: RecordHeaders = [
        (name, value) for name, value in headers or () if name not in _TRACE_HEADERS
    ]
    kept.append((TRACEPARENT, child_traceparent))
    if tracestate is not None:
        kept.append((TRACESTATE, tracestate))
    return kept


def trace_headers_of(headers: Sequence[tuple[str, str | bytes | None]] | None) -> RecordHeaders:
    """The trace context of an output record that its truncated dead letter carries over: only
    a valid `traceparent` and a `tracestate` within MAX_TRACESTATE_BYTES. The last-resort record
    must be small enough to write anywhere, and an untraced input's dead letter still carries the
    input's own headers, which may hold anything under these names."""
    upstream = upstream_trace(headers)
    if upstream is None:
        return []
    kept: RecordHeaders = [
        (TRACEPARENT, traceparent(upstream.trace_id, upstream.parent_span_id, upstream.flags))
    ]
    if upstream.tracestate is not None:
        kept.append((TRACESTATE, upstream.tracestate))
    return kept
