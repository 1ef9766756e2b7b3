"""`decode_application`: which dead-letter reason each kind of bad record gets, and what its
message may say."""

from __future__ import annotations

import traceback
from typing import Any

import orjson
import pytest

from schemas.decode import MAX_EVENT_BYTES, decode_application
from schemas.errors import (
    MAX_MESSAGE_CHARS,
    ConflictingDuplicateError,
    DeadLetterReason,
    EventDecodeError,
    InvalidJsonError,
    OversizeError,
    RecordScoringError,
    SchemaViolationError,
    UnknownSchemaError,
    UnsupportedVersionError,
)
from schemas.examples import example_application, example_application_json


def test_the_reason_classes_are_the_eight_documented_strings() -> None:
    assert {reason.value for reason in DeadLetterReason} == {
        "oversize",
        "invalid_json",
        "schema_violation",
        "unsupported_version",
        "scoring_error",
        "unwritable",
        "unknown_schema",
        "conflicting_duplicate",
    }
    assert RecordScoringError.reason == "scoring_error"
    assert ConflictingDuplicateError.reason == "conflicting_duplicate"
    assert OversizeError.reason == "oversize"
    assert InvalidJsonError.reason == "invalid_json"
    assert SchemaViolationError.reason == "schema_violation"
    assert UnsupportedVersionError.reason == "unsupported_version"
    assert UnknownSchemaError.reason == "unknown_schema"


def test_the_limit_is_16_kib_and_applies_to_the_raw_bytes() -> None:
    assert MAX_EVENT_BYTES == 16 * 1024
    padding = MAX_EVENT_BYTES - len(example_application_json(pad=""))
    decode_application(example_application_json(pad="x" * padding))  # exactly at the limit
    with pytest.raises(OversizeError) as caught:
        decode_application(example_application_json(pad="x" * (padding + 1)))
    assert str(caught.value) == f"Record value is {MAX_EVENT_BYTES + 1} bytes; the limit is 16384"


def test_oversize_is_decided_before_parsing() -> None:
    with pytest.raises(OversizeError):
        decode_application(b"\xff" * (MAX_EVENT_BYTES + 1))


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b" ",
        b"{",
        b"{'event_id': 1}",
        b"\xef\xbb\xbf{}",  # a byte-order mark is not JSON
        b'{"application_id": "\xff\xfe"}',  # not UTF-8
        b'{"application_id": "\\ud800"}',  # a lone surrogate
        b"{} trailing",
        b"[" * 5000 + b"]" * 5000,  # nested deeper than the parser's recursion limit
    ],
)
def test_unparseable_records_are_invalid_json(raw: bytes | None) -> None:
    with pytest.raises(InvalidJsonError) as caught:
        decode_application(raw)
    assert caught.value.fields == ()
    assert len(str(caught.value)) <= MAX_MESSAGE_CHARS


def test_not_utf8_anywhere_is_invalid_json() -> None:
    raw = example_application_json(application_id="app-\u00e9").replace("é".encode(), b"\xe9")
    with pytest.raises(InvalidJsonError):
        decode_application(raw)


@pytest.mark.parametrize("version", ["2.0", "0.9", "3.14", "10.0"])
def test_another_major_version_is_unsupported(version: str) -> None:
    with pytest.raises(UnsupportedVersionError) as caught:
        decode_application(example_application_json(schema_version=version))
    assert caught.value.fields == ("schema_version",)
    assert f"major version {int(version.split('.')[0])} is not supported" in str(caught.value)


def test_another_major_version_wins_over_its_other_differences() -> None:
    """A v2 event may be shaped differently; what matters is that this consumer cannot read it."""
    raw = orjson.dumps({"schema_version": "2.0", "event_type": "loan_application.submitted"})
    with pytest.raises(UnsupportedVersionError):
        decode_application(raw)


@pytest.mark.parametrize("event_type", ["loan_application.scored", "loan_application.withdrawn"])
def test_another_event_type_is_unsupported(event_type: str) -> None:
    with pytest.raises(UnsupportedVersionError) as caught:
        decode_application(example_application_json(event_type=event_type))
    assert str(caught.value) == "event_type: this consumer reads only 'loan_application.submitted'"
    assert event_type not in str(caught.value)


@pytest.mark.parametrize("event_type", [None, 1, ["loan_application.submitted"]])
def test_a_malformed_event_type_is_a_schema_violation(event_type: Any) -> None:
    with pytest.raises(SchemaViolationError):
        decode_application(example_application_json(event_type=event_type))


def test_the_pydantic_error_is_not_chained_because_its_text_quotes_the_input() -> None:
    raw = example_application_json(finances={"monthly_income": "SECRET-INCOME"})
    with pytest.raises(EventDecodeError) as caught:
        decode_application(raw)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert "SECRET-INCOME" not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    "overrides",
    [
        {"applicant": {"age": 987654}},
        {"applicant": {"marital_status": "SECRET-STATUS"}},
        {"finances": {"monthly_income": -987654.25}},
        {"finances": {"debt": "987654"}},
        {"loan": {"amount": "SECRET-AMOUNT"}},
        {"event_id": "SECRET-ID"},
        {"event_id": "zzzzzzzz-4b5a-4697-8a1b-2c3d4e5f6a7b"},
        {"occurred_at": "SECRET-TIME"},
        {"occurred_at": "2024-99-01T12:00:00Z"},
        {"application_id": "S" * 65},
        {"schema_version": "SECRET"},
        {"event_type": "SECRET-TYPE"},
    ],
)
def test_messages_never_echo_the_input(overrides: dict[str, Any]) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_application(example_application_json(**overrides))
    message = str(caught.value)
    for secret in ("SECRET", "987654", "zzzz", "SSSS", "2024-99"):
        assert secret not in message


def test_an_unknown_field_is_ignored_not_echoed() -> None:
    raw = example_application_json(
        national_id="SECRET", applicant={"favourite_colour": "SECRET", "age": 3}
    )
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(raw)
    assert str(caught.value) == "applicant.age: Input should be greater than or equal to 18"


def test_a_valid_record_decodes_to_the_same_values_as_the_dict() -> None:
    event = decode_application(example_application_json())
    assert event.model_dump(mode="json") == {
        **example_application(),
        "event_id": example_application()["event_id"],
        "finances": {
            "monthly_income": 2100.0,
            "monthly_expenses": 650.0,
            "assets": 15000.0,
            "debt": 0.0,
        },
        "applicant": {**example_application()["applicant"], "job_seniority_years": 8.0},
        "loan": {"amount": 1000.0, "term_months": 36, "purchase_price": 1400.0},
    }
