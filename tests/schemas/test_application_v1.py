"""Every validation rule of `LoanApplicationSubmitted` v1, with a valid and an invalid example."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.application_v1 import HomeOwnership, JobType, MaritalStatus
from schemas.decode import decode_application
from schemas.errors import SchemaViolationError
from schemas.examples import MISSING, example_application, example_application_json


def _rejected(**overrides: Any) -> SchemaViolationError:
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(example_application_json(**overrides))
    return caught.value


def test_the_example_is_valid_and_keeps_its_values() -> None:
    event = decode_application(example_application_json())
    assert event.application_id == "app-000001"
    assert event.applicant.marital_status is MaritalStatus.MARRIED
    assert event.finances.monthly_income == 2100.0
    assert event.loan.term_months == 36


@pytest.mark.parametrize(
    ("section", "field", "valid", "invalid", "rule"),
    [
        ("applicant", "age", [18, 100, 30.0], [17, 101, 30.5, -1, 17.0], "age"),
        ("applicant", "job_seniority_years", [0, 0.5, 40], [-0.01], "greater than or equal"),
        ("finances", "monthly_income", [0, 1234.5, None], [-1], "greater than or equal"),
        ("finances", "monthly_expenses", [0, 99.9], [-5, None], "monthly_expenses"),
        ("finances", "assets", [0, None], [-1], "greater than or equal"),
        ("finances", "debt", [0, None], [-1], "greater than or equal"),
        ("loan", "amount", [0.01, 5000], [0, -1, None], "loan.amount"),
        ("loan", "term_months", [1, 120, 12.0, 1.2e2], [0, 121, 12.5, None], "loan.term_months"),
        ("loan", "purchase_price", [1, 2500.5], [0, -3], "greater than 0"),
        ("applicant", "has_prior_records", [True, False], [0, 1, "true", None], "valid boolean"),
    ],
)
def test_number_and_boolean_ranges(
    section: str, field: str, valid: list[Any], invalid: list[Any], rule: str
) -> None:
    for value in valid:
        event = decode_application(example_application_json(**{section: {field: value}}))
        assert getattr(getattr(event, section), field) == value
    for value in invalid:
        error = _rejected(**{section: {field: value}})
        assert error.fields == (f"{section}.{field}",)
        assert str(error).startswith(f"{section}.{field}: ")
        assert rule in str(error)


@pytest.mark.parametrize(
    "token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"9" * 400]
)
@pytest.mark.parametrize(
    "path",
    [("finances", "monthly_income"), ("loan", "amount"), ("applicant", "job_seniority_years")],
)
def test_non_finite_numbers_are_rejected_naming_the_field(
    token: bytes, path: tuple[str, str]
) -> None:
    section, field = path
    raw = example_application_json(**{section: {field: 424242}}).replace(b"424242", token)
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(raw)
    assert caught.value.fields == (f"{section}.{field}",)
    assert f"{section}.{field}: Input should be a finite number" in str(caught.value)


@pytest.mark.parametrize(
    ("section", "field"),
    [("finances", "monthly_income"), ("applicant", "age"), ("loan", "term_months")],
)
def test_numbers_as_strings_are_rejected(section: str, field: str) -> None:
    error = _rejected(**{section: {field: "42"}})
    assert error.fields == (f"{section}.{field}",)
    assert "valid number" in str(error) or "valid integer" in str(error)


def test_the_message_matches_the_documented_form() -> None:
    error = _rejected(finances={"monthly_income": "2100"})
    assert str(error) == "finances.monthly_income: Input should be a valid number"


@pytest.mark.parametrize(
    ("field", "enum_values"),
    [
        ("marital_status", [m.value for m in MaritalStatus]),
        ("home_ownership", [h.value for h in HomeOwnership]),
        ("job_type", [j.value for j in JobType]),
    ],
)
def test_enums_accept_exactly_their_values(field: str, enum_values: list[str]) -> None:
    for value in enum_values:
        decode_application(example_application_json(applicant={field: value}))
    invalid: list[object] = ["", "unknown", enum_values[0].upper(), f" {enum_values[0]}", 1, None]
    for bad in invalid:
        error = _rejected(applicant={field: bad})
        assert error.fields == (f"applicant.{field}",)


def test_the_enum_values_are_the_contract() -> None:
    assert [m.value for m in MaritalStatus] == [
        "single",
        "married",
        "widow",
        "separated",
        "divorced",
    ]
    assert [h.value for h in HomeOwnership] == ["rent", "owner", "parents", "private", "other"]
    assert [j.value for j in JobType] == ["fixed", "freelance", "partime", "others"]


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T12:00:00-05:30",
        "2024-05-01t12:00:00z",
        "2024-05-01T12:00:00.123Z",
        "2024-05-01T12:00:00.123456789+01:00",
    ],
)
def test_rfc3339_timestamps_with_an_offset_are_accepted(value: str) -> None:
    event = decode_application(example_application_json(occurred_at=value))
    assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00",  # naive
        "2024-05-01T12:00:00.5",  # naive
        "2024-05-01",
        "2024-05-01 12:00:00Z",
        "2024-05-01T12:00Z",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T25:00:00Z",
        "2024-02-30T12:00:00Z",
        "yesterday",
        1714557600,
        None,
    ],
)
def test_naive_or_non_rfc3339_timestamps_are_rejected(value: Any) -> None:
    assert _rejected(occurred_at=value).fields == ("occurred_at",)


def test_a_naive_timestamp_says_it_needs_an_offset() -> None:
    assert "time-zone offset" in str(_rejected(occurred_at="2024-05-01T12:00:00"))


@pytest.mark.parametrize("value", ["a", "x" * 64, "app-ü-1"])
def test_application_id_of_1_to_64_characters_is_accepted(value: str) -> None:
    assert (
        decode_application(example_application_json(application_id=value)).application_id == value
    )


@pytest.mark.parametrize("value", ["", "x" * 65, 123, None])
def test_application_id_outside_1_to_64_characters_is_rejected(value: Any) -> None:
    assert _rejected(application_id=value).fields == ("application_id",)


@pytest.mark.parametrize(
    "value",
    [
        "not-a-uuid",
        "",
        42,
        None,
        "7f1e2d3c-4b5a-4697-8a1b",
        # UUIDs, but not in the 8-4-4-4-12 form the published schema (`format: uuid`) requires
        "7f1e2d3c4b5a46978a1b2c3d4e5f6a7b",
        "urn:uuid:7f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b",
        "{7f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b}",
    ],
)
def test_event_id_must_be_a_uuid(value: Any) -> None:
    error = _rejected(event_id=value)
    assert error.fields == ("event_id",)


@pytest.mark.parametrize("value", ["1.0", "1.1", "1.999"])
def test_every_1_x_schema_version_is_accepted(value: str) -> None:
    assert (
        decode_application(example_application_json(schema_version=value)).schema_version == value
    )


@pytest.mark.parametrize("value", ["1", "1.", "1.01", "1.1000", "v1.0", 1.0, None])
def test_malformed_schema_versions_are_schema_violations(value: Any) -> None:
    assert _rejected(schema_version=value).fields == ("schema_version",)


@pytest.mark.parametrize(
    "path",
    [
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "application_id",
        "applicant",
        "finances",
        "loan",
        "applicant.age",
        "finances.monthly_income",
        "finances.debt",
        "loan.purchase_price",
    ],
)
def test_every_field_is_required_even_when_nullable(path: str) -> None:
    section, _, field = path.rpartition(".")
    overrides = {section: {field: MISSING}} if section else {field: MISSING}
    error = _rejected(**overrides)
    assert error.fields == (path,)
    assert str(error) == f"{path}: Field required"


@pytest.mark.parametrize("section", ["applicant", "finances", "loan"])
@pytest.mark.parametrize("value", [None, [], "x", 1])
def test_sections_must_be_objects(section: str, value: Any) -> None:
    assert _rejected(**{section: value}).fields == (section,)


@pytest.mark.parametrize("payload", [b"[]", b'"event"', b"42", b"null", b"true"])
def test_a_payload_that_is_not_an_object_is_a_schema_violation(payload: bytes) -> None:
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(payload)
    assert caught.value.fields == ("(root)",)


def test_several_errors_are_all_named_and_the_message_stays_short() -> None:
    raw = orjson.dumps(
        example_application(
            applicant={"age": 5, "job_type": "astronaut"},
            finances={"monthly_income": "a", "monthly_expenses": -1, "assets": "b", "debt": "c"},
            loan={"amount": 0},
        )
    )
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(raw)
    assert len(caught.value.fields) == 7
    assert str(caught.value).endswith("; and 2 more")


def test_a_whole_number_written_with_a_fraction_is_the_integer() -> None:
    """JSON has one number type and JSON Schema's integer is a whole value: 36.0 is 36."""
    event = decode_application(example_application_json(loan={"term_months": 36.0}))
    assert event.loan.term_months == 36
    assert type(event.loan.term_months) is int


def test_an_event_id_in_upper_case_is_the_same_uuid() -> None:
    raw = example_application_json(event_id="7F1E2D3C-4B5A-4697-8A1B-2C3D4E5F6A7B")
    assert str(decode_application(raw).event_id) == "7f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"
