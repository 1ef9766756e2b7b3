"""Property-based checks of the decoder over generated applications and arbitrary bytes."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import decode_application
from schemas.encode import encode_application
from schemas.errors import MAX_MESSAGE_CHARS, EventDecodeError, SchemaViolationError
from schemas.examples import example_application_json
from tests.schemas.strategies import NUMBER_FIELDS, applications

_FAST = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@_FAST
@given(applications())
def test_any_valid_application_decodes_to_its_own_values(application: dict[str, Any]) -> None:
    event = decode_application(orjson.dumps(application))
    assert str(event.event_id) == application["event_id"]
    assert event.application_id == application["application_id"]
    assert event.occurred_at == datetime.fromisoformat(application["occurred_at"])
    for section, field, _ in NUMBER_FIELDS:
        assert getattr(getattr(event, section), field) == application[section][field]


@_FAST
@given(applications())
def test_any_valid_application_round_trips_through_its_encoding(
    application: dict[str, Any],
) -> None:
    event = decode_application(orjson.dumps(application))
    assert decode_application(encode_application(event)) == event


@_FAST
@given(
    applications(),
    st.sampled_from(NUMBER_FIELDS),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"]),
)
def test_any_non_finite_number_is_rejected_naming_the_field(
    application: dict[str, Any], path: tuple[str, str, bool], token: bytes
) -> None:
    section, field, _ = path
    application[section][field] = "__PLACEHOLDER__"
    raw = orjson.dumps(application).replace(b'"__PLACEHOLDER__"', token)
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(raw)
    assert f"{section}.{field}" in caught.value.fields
    assert f"{section}.{field}: " in str(caught.value)


@_FAST
@given(applications(), st.sampled_from(NUMBER_FIELDS), st.data())
def test_any_number_sent_as_a_string_is_rejected_naming_the_field(
    application: dict[str, Any], path: tuple[str, str, bool], data: st.DataObject
) -> None:
    section, field, _ = path
    number = data.draw(st.integers(0, 100) | st.floats(allow_nan=True, allow_infinity=True))
    application[section][field] = str(number)
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(orjson.dumps(application))
    assert caught.value.fields == (f"{section}.{field}",)
    if isinstance(number, float) and math.isfinite(number) and abs(number) >= 1e-3:
        assert str(number) not in str(caught.value)


def _decode_error_message_length(raw: bytes) -> int:
    """0 if `raw` decodes; any exception other than an EventDecodeError fails the test."""
    try:
        decode_application(raw)
    except EventDecodeError as error:
        return len(str(error))
    return 0


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@_FAST
@given(st.binary(max_size=2048) | _json_values.map(orjson.dumps))
def test_arbitrary_bytes_raise_only_decode_errors(raw: bytes) -> None:
    assert _decode_error_message_length(raw) <= MAX_MESSAGE_CHARS


@_FAST
@given(st.data())
def test_damaged_valid_records_raise_only_decode_errors(data: st.DataObject) -> None:
    raw = bytearray(example_application_json())
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, min(len(raw), start + 16)))
    raw[start:end] = data.draw(st.binary(max_size=16))
    assert _decode_error_message_length(bytes(raw)) <= MAX_MESSAGE_CHARS


@_FAST
@given(applications(), st.dictionaries(st.text(min_size=1), _json_values, max_size=5))
def test_unknown_fields_never_change_the_decoded_event(
    application: dict[str, Any], extra: dict[str, Any]
) -> None:
    known = decode_application(orjson.dumps(application))
    extended = {**{k: v for k, v in extra.items() if k not in application}, **application}
    assert decode_application(orjson.dumps(extended)) == known
