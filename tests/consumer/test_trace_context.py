"""W3C trace context in record headers: what is read, what is written, what is ignored.

The parser is held to opentelemetry's own `TraceContextTextMapPropagator` (the oracle), value by
value: both accept the same `traceparent` values, with the same ids and flags."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from consumer.records import RecordHeaders
from consumer.telemetry.trace_context import (
    MAX_TRACESTATE_BYTES,
    UpstreamTrace,
    new_span_id,
    parse_traceparent,
    trace_headers_of,
    traceparent,
    upstream_trace,
    with_trace_headers,
)

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"

CASES = [
    VALID,
    f"00-{TRACE_ID}-{SPAN_ID}-00",  # not sampled upstream
    f" \t{VALID}\t ",  # spaces and tabs around it
    f"01-{TRACE_ID}-{SPAN_ID}-01-what-the-future-adds",  # a later version may append fields
    f"cc-{TRACE_ID}-{SPAN_ID}-09",
    f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 has exactly four fields
    f"ff-{TRACE_ID}-{SPAN_ID}-01",  # ff is never a valid version
    f"00-{'0' * 32}-{SPAN_ID}-01",  # an all-zero trace id
    f"00-{TRACE_ID}-{'0' * 16}-01",  # an all-zero span id
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",  # upper case hex
    f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",  # a trace id one digit short
    f"00-{TRACE_ID}-{SPAN_ID}",  # no flags
    f"00_{TRACE_ID}_{SPAN_ID}_01",
    "",
    "garbage",
    f"01-{TRACE_ID}-{SPAN_ID}-01-" + "x" * 600,  # longer than the propagator reads
]


def _oracle(value: str) -> tuple[str, str, int] | None:
    context = trace.get_current_span(
        TraceContextTextMapPropagator().extract({"traceparent": value})
    )
    span = context.get_span_context()
    if not span.is_valid:
        return None
    return f"{span.trace_id:032x}", f"{span.span_id:016x}", int(span.trace_flags)


@pytest.mark.parametrize("value", CASES)
def test_a_traceparent_is_accepted_exactly_when_the_opentelemetry_propagator_accepts_it(
    value: str,
) -> None:
    assert parse_traceparent(value) == _oracle(value)
    assert parse_traceparent(value.encode()) == _oracle(value)


def test_the_valid_cases_are_read_and_the_malformed_ones_ignored() -> None:
    """The differential test above would pass if both refused everything: pin the verdicts."""
    accepted = [value for value in CASES if parse_traceparent(value) is not None]
    assert accepted == CASES[:5]
    assert parse_traceparent(VALID) == (TRACE_ID, SPAN_ID, 1)


@pytest.mark.parametrize("value", [b"\xff\xfe-not-ascii", None, b""])
def test_bytes_that_are_not_ascii_or_no_value_are_ignored_not_raised(value: bytes | None) -> None:
    assert parse_traceparent(value) is None


def test_the_upstream_trace_takes_the_first_traceparent_and_joins_the_tracestates() -> None:
    headers: RecordHeaders = [
        ("tracestate", b"a=1"),
        ("traceparent", VALID.encode()),
        ("traceparent", f"00-{'1' * 32}-{'2' * 16}-01".encode()),
        ("tracestate", "b=2"),
    ]
    assert upstream_trace(headers) == UpstreamTrace(TRACE_ID, SPAN_ID, 1, b"a=1,b=2")


def test_a_malformed_traceparent_means_no_upstream_trace_and_its_tracestate_is_not_read() -> None:
    assert upstream_trace([("traceparent", b"00-nope"), ("tracestate", b"a=1")]) is None
    # The first traceparent decides: a valid one after a malformed one is not looked for.
    assert upstream_trace([("traceparent", b"bad"), ("traceparent", VALID.encode())]) is None
    assert upstream_trace([("tracestate", b"a=1")]) is None
    assert upstream_trace(None) is None


def test_a_tracestate_over_the_w3c_limit_is_dropped_not_forwarded() -> None:
    longest = b"a=" + b"x" * (MAX_TRACESTATE_BYTES - 2)
    kept = upstream_trace([("traceparent", VALID.encode()), ("tracestate", longest)])
    dropped = upstream_trace([("traceparent", VALID.encode()), ("tracestate", longest + b"x")])
    assert kept is not None
    assert kept.tracestate == longest
    assert dropped is not None
    assert dropped.tracestate is None


def test_the_child_traceparent_replaces_the_inputs_trace_headers_and_keeps_the_others() -> None:
    child = traceparent(TRACE_ID, "1111111111111111", 1)
    headers = with_trace_headers(
        [("traceparent", VALID.encode()), ("kafka_dlt-x", b"1"), ("tracestate", b"old=1")],
        child,
        b"a=1",
    )
    assert headers == [
        ("kafka_dlt-x", b"1"),
        ("traceparent", f"00-{TRACE_ID}-1111111111111111-01".encode()),
        ("tracestate", b"a=1"),
    ]
    assert with_trace_headers(None, child, None) == [("traceparent", child)]
    assert trace_headers_of(headers) == headers[1:]


def test_a_truncated_dead_letter_carries_only_a_valid_trace_within_bounds() -> None:
    """An untraced input's dead letter keeps the input's headers, whatever they hold under these
    names: the last-resort copy must stay small enough to be written anywhere."""
    huge = b"a=" + b"x" * 2_000_000
    assert trace_headers_of([("traceparent", b"not-a-traceparent"), ("tracestate", huge)]) == []
    assert trace_headers_of([("traceparent", VALID.encode()), ("tracestate", huge)]) == [
        ("traceparent", VALID.encode())
    ]
    assert trace_headers_of([("traceparent", VALID.encode()), ("tracestate", b"a=1")]) == [
        ("traceparent", VALID.encode()),
        ("tracestate", b"a=1"),
    ]


def test_a_new_span_id_is_16_lowercase_hex_digits_parseable_as_a_child() -> None:
    ids = {new_span_id() for _ in range(1000)}
    assert len(ids) == 1000  # 64 random bits: no repeat in a thousand draws
    for span_id in ids:
        assert parse_traceparent(traceparent(TRACE_ID, span_id, 0)) == (TRACE_ID, span_id, 0)
