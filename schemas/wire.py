"""Input records in the schema registry's wire format or as plain JSON, through one strict decoder.

Confluent's serializers (and Apicurio's, in this mode) frame a record value as a zero "magic"
byte, the writer's schema id as 4 big-endian bytes, then the JSON. JSON text never starts with a
NUL byte, so the first byte tells the two formats apart: plain JSON goes straight to
`decode_application`, untouched; a framed value has its 5 bytes stripped and its JSON goes to the
same `decode_application`, so both are exactly as strict. The schema id only says *which* version
of the contract the writer used: an id the registry does not hold, or holds but not as a version
of the input subject, is an `UnknownSchemaError` (dead letter `unknown_schema`).

The registry is asked about an id once: known ids are cached for good (a registry never reuses an
id for other content); unknown ones in a bounded cache, since their values come from the input.
The lookup itself is injected, so this module stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import decode_application
from schemas.errors import InvalidJsonError, UnknownSchemaError

MAGIC_BYTE = 0
FRAME_BYTES = 5
MAX_UNKNOWN_IDS_CACHED = 1024

# Headers on a `LoanScored` record whose input came framed: which contract version it was
# written with (absent when the input was plain JSON).
HEADER_INPUT_SCHEMA_ID = "loan_scorer.input.schema_id"
HEADER_INPUT_SCHEMA_VERSION = "loan_scorer.input.schema_version"


@dataclass(frozen=True, slots=True)
class WriterSchema:
    """The registered schema an input was written with: its global id, its subject version."""

    schema_id: int
    version: int

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        return [
            (HEADER_INPUT_SCHEMA_ID, str(self.schema_id).encode()),
            (HEADER_INPUT_SCHEMA_VERSION, str(self.version).encode()),
        ]


# Returns the writer schema of an id, raises UnknownSchemaError when the registry says it has no
# such version of the subject, and anything else when the registry could not be asked.
SchemaLookup = Callable[[int], WriterSchema]


def frame(schema_id: int, payload: bytes) -> bytes:
    """The wire format of `payload` written with schema `schema_id` (for tests and producers)."""
    return bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big") + payload


def unframe(raw: bytes | None) -> tuple[int | None, bytes | None]:
    """(schema id, JSON) of a value in the wire format; (None, the value) of plain JSON.

    For every reader of a topic where both arrive (the scorer, `tail`, `validate`): the first
    byte tells them apart. A magic byte without a whole schema id is `InvalidJsonError`.
    """
    if not raw or raw[0] != MAGIC_BYTE:
        return None, raw
    if len(raw) < FRAME_BYTES:
        raise InvalidJsonError("Record value has the registry's magic byte but no schema id")
    return int.from_bytes(raw[1:FRAME_BYTES], "big"), raw[FRAME_BYTES:]


class WriterSchemas:
    """A `SchemaLookup` that asks the registry about an id once (see module docstring); any
    reader of framed records uses it, for the input subject or the output one."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self._lookup = lookup
        self._known: dict[int, WriterSchema] = {}
        self._unknown: dict[int, UnknownSchemaError] = {}

    def __call__(self, schema_id: int) -> WriterSchema:
        known = self._known.get(schema_id)
        if known is not None:
            return known
        unknown = self._unknown.get(schema_id)
        if unknown is not None:
            raise UnknownSchemaError(unknown.message)
        try:
            writer = self._lookup(schema_id)
        except UnknownSchemaError as error:
            if len(self._unknown) >= MAX_UNKNOWN_IDS_CACHED:
                self._unknown.clear()
            self._unknown[schema_id] = error
            raise
        self._known[schema_id] = writer
        return writer


class FramedApplicationDecoder:
    """`decode_application` for a topic where both formats arrive (see module docstring)."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self.writer_schema = WriterSchemas(lookup)

    def __call__(self, raw: bytes | None) -> tuple[LoanApplicationSubmitted, WriterSchema | None]:
        schema_id, payload = unframe(raw)
        if schema_id is None:
            return decode_application(payload), None
        writer = self.writer_schema(schema_id)
        return decode_application(payload), writer
