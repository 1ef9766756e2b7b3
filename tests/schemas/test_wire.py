"""Registry-framed and plain JSON inputs through one strict decoder (schemas/wire.py)."""

from __future__ import annotations

import pytest

from schemas.decode import decode_application
from schemas.errors import InvalidJsonError, SchemaViolationError, UnknownSchemaError
from schemas.examples import MISSING, example_application_json
from schemas.wire import (
    HEADER_INPUT_SCHEMA_ID,
    HEADER_INPUT_SCHEMA_VERSION,
    MAX_UNKNOWN_IDS_CACHED,
    FramedApplicationDecoder,
    WriterSchema,
    frame,
)


class FakeRegistry:
    """Ids 7 and 8 are versions 1 and 2 of the input subject; any other id is unknown."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, schema_id: int) -> WriterSchema:
        self.asked.append(schema_id)
        if schema_id in (7, 8):
            return WriterSchema(schema_id=schema_id, version=schema_id - 6)
        raise UnknownSchemaError(f"schema id {schema_id} is not in the schema registry")


def test_the_frame_is_a_zero_byte_then_the_id_in_four_big_endian_bytes() -> None:
    assert frame(258, b"{}") == b"\x00\x00\x00\x01\x02{}"


def test_plain_json_is_decoded_as_before_without_asking_the_registry() -> None:
    registry = FakeRegistry()
    raw = example_application_json()
    application, writer = FramedApplicationDecoder(registry)(raw)
    assert writer is None
    assert application == decode_application(raw)
    assert registry.asked == []


def test_a_framed_record_decodes_to_the_same_event_and_says_its_schema_version() -> None:
    raw = example_application_json()
    application, writer = FramedApplicationDecoder(FakeRegistry())(frame(8, raw))
    assert application == decode_application(raw)
    assert writer == WriterSchema(schema_id=8, version=2)
    assert writer.headers() == [
        (HEADER_INPUT_SCHEMA_ID, b"8"),
        (HEADER_INPUT_SCHEMA_VERSION, b"2"),
    ]


def test_a_framed_record_is_exactly_as_strict_as_a_plain_one() -> None:
    broken = example_application_json(applicant={"age": MISSING})
    decoder = FramedApplicationDecoder(FakeRegistry())
    with pytest.raises(SchemaViolationError) as plain:
        decoder(broken)
    with pytest.raises(SchemaViolationError) as framed:
        decoder(frame(7, broken))
    assert framed.value.message == plain.value.message
    assert framed.value.fields == plain.value.fields == ("applicant.age",)


def test_an_unknown_schema_id_is_its_own_dead_letter_reason() -> None:
    with pytest.raises(UnknownSchemaError) as error:
        FramedApplicationDecoder(FakeRegistry())(frame(99, example_application_json()))
    assert error.value.reason == "unknown_schema"
    assert "99" in error.value.message


def test_each_id_is_looked_up_once() -> None:
    registry = FakeRegistry()
    decoder = FramedApplicationDecoder(registry)
    raw = example_application_json()
    for _ in range(3):
        decoder(frame(7, raw))
        with pytest.raises(UnknownSchemaError):
            decoder(frame(99, raw))
    assert registry.asked == [7, 99]


def test_the_cache_of_unknown_ids_is_bounded() -> None:
    registry = FakeRegistry()
    decoder = FramedApplicationDecoder(registry)
    raw = example_application_json()
    for schema_id in range(100, 100 + MAX_UNKNOWN_IDS_CACHED + 1):
        with pytest.raises(UnknownSchemaError):
            decoder(frame(schema_id, raw))
    with pytest.raises(UnknownSchemaError):
        decoder(frame(100, raw))  # forgotten when the cache was emptied: asked again
    assert registry.asked.count(100) == 2


def test_a_registry_that_cannot_answer_is_not_a_dead_letter_and_is_asked_again() -> None:
    calls = 0

    def unavailable(_schema_id: int) -> WriterSchema:
        nonlocal calls
        calls += 1
        raise ConnectionError("registry down")

    decoder = FramedApplicationDecoder(unavailable)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            decoder(frame(7, example_application_json()))
    assert calls == 2


@pytest.mark.parametrize("raw", [b"\x00", b"\x00\x00\x00\x07"])
def test_a_magic_byte_without_a_whole_schema_id_is_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidJsonError, match="no schema id"):
        FramedApplicationDecoder(FakeRegistry())(raw)


@pytest.mark.parametrize("raw", [None, b""])
def test_empty_values_stay_invalid_json(raw: bytes | None) -> None:
    with pytest.raises(InvalidJsonError):
        FramedApplicationDecoder(FakeRegistry())(raw)
