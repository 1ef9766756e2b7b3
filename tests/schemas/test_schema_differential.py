"""The published application JSON Schema and the stream's decoder judge the same corpus alike.

A producer that validates with `jsonschema` (Draft 2020-12, format checking on) before sending
must not have the event dead-lettered, and what the schema rejects the decoder must reject too.
Hypothesis builds valid applications (tests/schemas/strategies.py) and breaks each in one of many
ways a producer does; every disagreement fails the test unless it is one of the documented
exceptions below, each of which the schema's `$comment` or schemas/README.md states.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs installed

from schemas.application_v1 import RFC3339_PATTERN
from schemas.decode import MAX_EVENT_BYTES, decode_application
from schemas.errors import EventDecodeError
from schemas.generate import JSON_DIR
from tests.schemas.strategies import NUMBER_FIELDS, applications

SCHEMA = json.loads((JSON_DIR / "loan_application_submitted.v1.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
PATTERNED = ("event_id", "schema_version", "occurred_at")

Mutation = Callable[[dict[str, Any]], Any]


# -- how producers break events ----------------------------------------------------------------


def _set(path: tuple[str, ...], value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> Any:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return document

    return mutate


def _drop(path: tuple[str, ...]) -> Mutation:
    def mutate(document: dict[str, Any]) -> Any:
        node = document
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return document

    return mutate


def _append_newline(field: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> Any:
        document[field] = f"{document[field]}\n"
        return document

    return mutate


def _padded(size: int) -> Mutation:
    def mutate(document: dict[str, Any]) -> Any:
        document["x_padding"] = "p" * size  # an unknown field: ignored, but it counts in bytes
        return document

    return mutate


_NUMBER_PATHS = [(section, field) for section, field, _ in NUMBER_FIELDS]
_numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 0.5, 1.0, 12.0, 36.0, 36.5, 120.0, 121.0, 17.0, 1e2, 1e300]),
)
_not_numbers: st.SearchStrategy[Any] = st.sampled_from(
    ["36", "2100", True, False, None, [], {}, "NaN"]
)
_timestamps = st.sampled_from(
    [
        "2024-05-01T12:00:00",
        "2024-05-01T12:00:00.5",
        "2024-05-01",
        "2024-05-01 12:00:00Z",
        "2024-05-01T12:00Z",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00+02",
        "2024-05-01T25:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-05-01T12:00:60Z",
        "2024-13-01T12:00:00Z",
        "2024-02-30T12:00:00Z",
        "2023-02-29T12:00:00Z",
        "2024-04-31T12:00:00+01:00",
        "2024-05-01t12:00:00z",
        "2024-05-01T12:00:00.123456789-05:30",
        "2024-05-01T12:00:00.1234567890Z",
        "2024-05-01T12:00:00+24:00",
        "20240501T120000Z",
        "yesterday",
        1714557600,
        None,
    ]
)
_event_ids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: f"urn:uuid:{u}"),
    st.uuids().map(lambda u: f"{{{u}}}"),
    st.sampled_from(["not-a-uuid", "", "7f1e2d3c-4b5a-4697-8a1b", 42, None]),
)
_versions = st.sampled_from(["1.0", "1.7", "1.999", "1.1000", "1.01", "2.0", "0.9", "1", 1.0])
_event_types = st.sampled_from(["loan_application.scored", "", None, 1])
_enum_fields = [
    ("applicant", "marital_status"),
    ("applicant", "home_ownership"),
    ("applicant", "job_type"),
]
_enum_values = st.sampled_from(["Married", "MARRIED", "astronaut", "", None, 1, "part-time"])
_required = [
    ("event_id",),
    ("occurred_at",),
    ("applicant",),
    ("applicant", "age"),
    ("finances", "debt"),
    ("finances", "monthly_income"),
    ("loan", "term_months"),
]

mutations: st.SearchStrategy[Mutation | None] = st.one_of(
    st.none(),
    st.builds(_set, st.sampled_from(_NUMBER_PATHS).map(tuple), _numbers),
    st.builds(_set, st.sampled_from(_NUMBER_PATHS).map(tuple), _not_numbers),
    st.builds(_set, st.just(("occurred_at",)), _timestamps),
    st.builds(_set, st.just(("event_id",)), _event_ids),
    st.builds(_set, st.just(("schema_version",)), _versions),
    st.builds(_set, st.just(("event_type",)), _event_types),
    st.builds(_set, st.sampled_from(_enum_fields), _enum_values),
    st.builds(_set, st.just(("application_id",)), st.text(max_size=70) | st.none()),
    st.builds(_set, st.just(("applicant", "has_prior_records")), _not_numbers),
    st.builds(
        _set,
        st.sampled_from(["applicant", "finances", "loan"]).map(lambda s: (s,)),
        st.sampled_from([None, [], "x", 1]),
    ),
    st.builds(_set, st.just(("new_optional_field",)), st.just({"anything": [1, "two"]})),
    st.builds(_drop, st.sampled_from(_required)),
    st.builds(_append_newline, st.sampled_from(PATTERNED)),
    st.builds(_padded, st.integers(MAX_EVENT_BYTES - 700, MAX_EVENT_BYTES)),
    st.just(lambda _document: [1, 2]),
)


# -- the verdicts and the documented exceptions --------------------------------------------------


def _decoder_accepts(raw: bytes) -> bool:
    try:
        decode_application(raw)
    except EventDecodeError:
        return False
    return True


def documented_exception(raw: bytes, document: Any) -> str | None:
    """Why the two may rightly disagree on this document, or None if they must agree."""
    if len(raw) > MAX_EVENT_BYTES:
        # JSON Schema has no keyword for a document's size in bytes (`$comment` says the limit).
        return "oversize"
    if not isinstance(document, dict):
        return None
    occurred_at = document.get("occurred_at")
    if isinstance(occurred_at, str) and re.fullmatch(RFC3339_PATTERN[1:-1], occurred_at):
        try:
            datetime.fromisoformat(occurred_at.upper())
        except ValueError:
            # A day the month does not have (2024-02-30) fits the pattern; only a validator that
            # checks `format: date-time` (rfc3339-validator, ajv-formats) rejects it.
            return "impossible calendar date"
    for field in PATTERNED:
        value = document.get(field)
        if isinstance(value, str) and value.endswith("\n"):
            # Python's `re` lets `$` match before a final newline, so Python's jsonschema accepts
            # "1.0\n"; JSON Schema's patterns are ECMA-262, where `$` is the end (the decoder).
            return "trailing newline under Python's re"
    return None


def _verdicts(document: Any) -> tuple[bytes, bool, bool]:
    # The standard library's encoder: it writes integers of any size (orjson stops at 64 bits)
    # and floats as Python reads them back (36.0 stays 36.0).
    raw = json.dumps(document, ensure_ascii=False).encode()
    return raw, VALIDATOR.is_valid(json.loads(raw)), _decoder_accepts(raw)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applications(), mutations)
@example(application=None, mutation=None)  # the documented example, below
def test_schema_and_decoder_agree_on_every_generated_event(
    application: dict[str, Any] | None, mutation: Mutation | None
) -> None:
    if application is None:
        from schemas.examples import example_application

        application = example_application()
    document = application if mutation is None else mutation(application)
    raw, schema_says, decoder_says = _verdicts(document)
    if schema_says != decoder_says:
        exception = documented_exception(raw, document)
        assert exception is not None, (
            f"schema says {'valid' if schema_says else 'invalid'}, decoder says "
            f"{'valid' if decoder_says else 'invalid'}: {raw[:400]!r}"
        )


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        (("loan", "term_months"), 36.0, True),
        (("applicant", "age"), 30.0, True),
        (("loan", "term_months"), 36.5, False),
        (("occurred_at",), "2024-05-01T12:00:00", False),
        (("occurred_at",), "2024-05-01", False),
        (("occurred_at",), "2024-05-01T12:00:00+02:00", True),
        (("event_id",), "7f1e2d3c4b5a46978a1b2c3d4e5f6a7b", False),
    ],
)
def test_the_cases_the_issue_names_get_one_verdict(
    field: tuple[str, ...], value: Any, valid: bool
) -> None:
    from schemas.examples import example_application

    _raw, schema_says, decoder_says = _verdicts(_set(field, value)(example_application()))
    assert (schema_says, decoder_says) == (valid, valid)


def test_the_documented_exceptions_are_real_and_stated_in_the_schema() -> None:
    """Each exception is a disagreement that exists, and the published file says so."""
    from schemas.examples import example_application

    oversize = _padded(MAX_EVENT_BYTES)(example_application())
    raw, schema_says, decoder_says = _verdicts(oversize)
    assert (schema_says, decoder_says) == (True, False)
    assert documented_exception(raw, oversize) == "oversize"

    impossible = _set(("occurred_at",), "2024-02-30T12:00:00Z")(example_application())
    raw, _schema_says, decoder_says = _verdicts(impossible)
    assert not decoder_says
    assert documented_exception(raw, impossible) == "impossible calendar date"

    assert str(MAX_EVENT_BYTES) in SCHEMA["$comment"]
    assert "2024-02-30" in SCHEMA["$comment"]
