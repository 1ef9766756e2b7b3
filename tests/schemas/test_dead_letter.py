"""The dead-letter headers: Kafka Connect's names, our two additions, and the round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.dead_letter import (
    HEADER_EXCEPTION_CLASS,
    HEADER_EXCEPTION_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TIMESTAMP,
    HEADER_TOPIC,
    dead_letter_headers,
    parse_dead_letter_headers,
    with_dead_letter_headers,
)
from schemas.decode import decode_application
from schemas.errors import (
    MAX_MESSAGE_CHARS,
    DeadLetterReason,
    EventDecodeError,
    InvalidJsonError,
    OversizeError,
    SchemaViolationError,
    UnsupportedVersionError,
)
from schemas.examples import example_application_json

_WHEN = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _error_for(raw: bytes | None) -> EventDecodeError:
    with pytest.raises(EventDecodeError) as caught:
        decode_application(raw)
    return caught.value


def test_the_header_names_are_kafka_connects_plus_two_of_ours() -> None:
    error = _error_for(example_application_json(applicant={"age": 7}))
    headers = dead_letter_headers(
        error, topic="loan-applications", partition=3, offset=42, failed_at=_WHEN
    )
    assert headers == [
        ("__connect.errors.topic", b"loan-applications"),
        ("__connect.errors.partition", b"3"),
        ("__connect.errors.offset", b"42"),
        ("__connect.errors.exception.class.name", b"schemas.errors.SchemaViolationError"),
        (
            "__connect.errors.exception.message",
            b"applicant.age: Input should be greater than or equal to 18",
        ),
        ("__loan_scorer.errors.reason", b"schema_violation"),
        ("__loan_scorer.errors.timestamp", b"2024-05-01T12:30:15.123Z"),
    ]
    assert [name for name, _ in headers] == [
        HEADER_TOPIC,
        HEADER_PARTITION,
        HEADER_OFFSET,
        HEADER_EXCEPTION_CLASS,
        HEADER_EXCEPTION_MESSAGE,
        HEADER_REASON,
        HEADER_TIMESTAMP,
    ]


def test_the_failure_time_is_written_in_utc() -> None:
    paris = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    headers = dict(
        dead_letter_headers(OversizeError("x"), topic="t", partition=0, offset=0, failed_at=paris)
    )
    assert headers[HEADER_TIMESTAMP] == b"2024-05-01T12:30:00.000Z"


def test_a_naive_failure_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        dead_letter_headers(
            OversizeError("x"),
            topic="t",
            partition=0,
            offset=0,
            failed_at=datetime(2024, 5, 1),  # the point of the test
        )


def test_a_long_message_is_cut_to_the_bound() -> None:
    error = SchemaViolationError("x" * 5000)
    headers = dict(dead_letter_headers(error, topic="t", partition=0, offset=0, failed_at=_WHEN))
    assert len(headers[HEADER_EXCEPTION_MESSAGE]) == MAX_MESSAGE_CHARS
    assert headers[HEADER_EXCEPTION_MESSAGE].endswith(b"...")


@pytest.mark.parametrize(
    ("raw", "error_class"),
    [
        (b"\xff" * 20000, OversizeError),
        (None, InvalidJsonError),
        (b"{", InvalidJsonError),
        (example_application_json(loan={"amount": -1}), SchemaViolationError),
        (example_application_json(schema_version="2.0"), UnsupportedVersionError),
    ],
)
def test_every_decode_failure_round_trips_through_its_headers(
    raw: bytes | None, error_class: type[EventDecodeError]
) -> None:
    error = _error_for(raw)
    assert isinstance(error, error_class)
    headers = dead_letter_headers(error, topic="in", partition=1, offset=99, failed_at=_WHEN)
    context = parse_dead_letter_headers(headers)
    assert context.topic == "in"
    assert context.partition == 1
    assert context.offset == 99
    assert context.exception_class == f"schemas.errors.{error_class.__name__}"
    assert context.message == str(error)
    assert context.reason is error_class.reason
    assert context.failed_at == _WHEN.replace(microsecond=123000)


@given(
    topic=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=249),
    partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
    message=st.text(max_size=MAX_MESSAGE_CHARS),
    reason_class=st.sampled_from(
        [OversizeError, InvalidJsonError, SchemaViolationError, UnsupportedVersionError]
    ),
    failed_at=st.datetimes(timezones=st.just(UTC)).map(
        lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    ),
)
def test_any_headers_round_trip(
    topic: str,
    partition: int,
    offset: int,
    message: str,
    reason_class: type[EventDecodeError],
    failed_at: datetime,
) -> None:
    error = reason_class(message)
    headers = dead_letter_headers(
        error, topic=topic, partition=partition, offset=offset, failed_at=failed_at
    )
    assert all(isinstance(value, bytes) for _, value in headers)
    context = parse_dead_letter_headers(headers)
    assert (context.topic, context.partition, context.offset) == (topic, partition, offset)
    assert (context.message, context.reason, context.failed_at) == (
        message,
        reason_class.reason,
        failed_at,
    )


def test_original_headers_are_kept_and_an_earlier_failure_is_replaced() -> None:
    earlier = dead_letter_headers(
        OversizeError("old"), topic="old", partition=0, offset=1, failed_at=_WHEN
    )
    original: list[tuple[str, str | bytes | None]] = [
        ("traceparent", b"00-abc-def-01"),
        ("empty", None),
        *earlier,
        ("__connect.errors.stage", b"VALUE_CONVERTER"),
    ]
    latest = dead_letter_headers(
        SchemaViolationError("new"), topic="new", partition=2, offset=3, failed_at=_WHEN
    )
    combined = with_dead_letter_headers(original, latest)
    assert combined[:2] == [("traceparent", b"00-abc-def-01"), ("empty", None)]
    assert combined[2:] == latest
    assert parse_dead_letter_headers(combined).topic == "new"
    assert with_dead_letter_headers(None, latest) == latest


def test_the_parser_reads_str_values_and_takes_the_last_occurrence() -> None:
    headers: list[tuple[str, str | bytes | None]] = [
        *dead_letter_headers(
            InvalidJsonError("a"), topic="t", partition=0, offset=5, failed_at=_WHEN
        ),
        (HEADER_OFFSET, "6"),
    ]
    assert parse_dead_letter_headers(headers).offset == 6
    assert parse_dead_letter_headers(headers).reason is DeadLetterReason.INVALID_JSON


@pytest.mark.parametrize(
    "missing",
    [HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET, HEADER_REASON, HEADER_TIMESTAMP],
)
def test_the_parser_names_a_missing_header(missing: str) -> None:
    headers = [
        (name, value)
        for name, value in dead_letter_headers(
            InvalidJsonError("a"), topic="t", partition=0, offset=5, failed_at=_WHEN
        )
        if name != missing
    ]
    with pytest.raises(ValueError, match=missing):
        parse_dead_letter_headers(headers)


def test_the_parser_refuses_an_unknown_reason() -> None:
    headers = [
        *dead_letter_headers(
            InvalidJsonError("a"), topic="t", partition=0, offset=5, failed_at=_WHEN
        ),
        (HEADER_REASON, b"bored"),
    ]
    with pytest.raises(ValueError, match="bored"):
        parse_dead_letter_headers(headers)


def test_a_truncated_dead_letter_says_how_long_the_original_was_and_its_sha256() -> None:
    from schemas.dead_letter import (
        HEADER_ORIGINAL_SHA256,
        HEADER_ORIGINAL_SIZE,
        original_value_headers,
    )

    headers = dict(original_value_headers(b"abc"))
    assert headers[HEADER_ORIGINAL_SIZE] == b"3"
    # SHA-256("abc") from FIPS 180-2, appendix B.1: not computed by the code under test.
    assert headers[HEADER_ORIGINAL_SHA256] == (
        b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert dict(original_value_headers(None))[HEADER_ORIGINAL_SIZE] == b"0"
