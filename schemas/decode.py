"""Raw record bytes to a validated event, or an `EventDecodeError` that says which dead letter.

This runs for every record on the hot path, so the happy path is one size check and one call into
pydantic's Rust JSON parser; all the classification work happens only once validation has failed.
Messages are built from field paths and rule descriptions only, never from input values, and the
pydantic error (whose text quotes the input) is not chained, so tracebacks cannot leak it either.
"""

from __future__ import annotations

import math
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, from_json

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.errors import (
    MAX_MESSAGE_CHARS,
    EventDecodeError,
    InvalidJsonError,
    OversizeError,
    SchemaViolationError,
    UnsupportedVersionError,
)
from schemas.outcome_v1 import LoanOutcome
from schemas.score_v1 import LoanScored

MAX_EVENT_BYTES = 16 * 1024
_MAX_ERRORS_IN_MESSAGE = 5
_MAX_RULE_CHARS = 160
_MAX_FIELDS = 32

# Pydantic messages whose text quotes part of the input; they are replaced by a fixed sentence.
_INPUT_QUOTING_MESSAGES = {"uuid_parsing": "Input should be a valid UUID"}
_WELL_FORMED_VERSION = re.compile(r"(\d{1,6})\.\d{1,6}", re.ASCII)
# pydantic's JSON parser reads NaN, Infinity and -Infinity anywhere. A contract number refuses
# them (`schema_violation`, naming the field), but an unknown field would carry them through; they
# are not JSON (RFC 8259) and the published schema refuses them, so the decoder does too: anywhere
# but in a contract number, the record is `invalid_json`.
_NON_JSON_LITERALS = (b"NaN", b"Infinity")

EventT = TypeVar("EventT", bound=BaseModel)


def decode_application(raw: bytes | None) -> LoanApplicationSubmitted:
    """Decode one input record value; raise an `EventDecodeError` subclass if it is unusable."""
    return _decode(LoanApplicationSubmitted, "loan_application.submitted", raw)


def decode_loan_scored(raw: bytes | None) -> LoanScored:
    """Decode one output record value, for tests, replays and downstream tools."""
    return _decode(LoanScored, "loan_application.scored", raw)


def decode_loan_outcome(raw: bytes | None) -> LoanOutcome:
    """For the outcomes consumer: the same strictness and errors as the other contracts."""
    return _decode(LoanOutcome, "loan_application.outcome_observed", raw)


def _decode(model: type[EventT], event_type: str, raw: bytes | None) -> EventT:
    if not raw:
        raise InvalidJsonError("Record value is empty (null or zero bytes)")
    if len(raw) > MAX_EVENT_BYTES:
        raise OversizeError(f"Record value is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        event = model.model_validate_json(raw)
    except ValidationError as exc:
        if not _names_a_non_finite_field(exc):
            _refuse_non_json_literals(raw)
        raise _classify(exc, event_type) from None
    _refuse_non_json_literals(raw)
    return event


def _refuse_non_json_literals(raw: bytes) -> None:
    """`InvalidJsonError` if NaN or Infinity is a value anywhere in `raw`. The strict second
    parse runs only when the bytes hold one of the spellings (a cheap search on the hot path;
    the text may as well be inside a string)."""
    # One byte first (memchr): a typical record has no capital N or I at all.
    if not (b"N" in raw or b"I" in raw) or not any(lit in raw for lit in _NON_JSON_LITERALS):
        return
    try:
        from_json(raw, allow_inf_nan=False)
    except ValueError as error:
        raise InvalidJsonError(_clip(f"Invalid JSON: {error}", MAX_MESSAGE_CHARS)) from None


def _names_a_non_finite_field(exc: ValidationError) -> bool:
    """A contract field that was NaN or infinite: kept a `schema_violation` that names it."""
    return any(
        error["loc"] and isinstance(error["input"], float) and not math.isfinite(error["input"])
        for error in exc.errors(include_url=False)
    )


def _classify(exc: ValidationError, event_type: str) -> EventDecodeError:
    errors = exc.errors(include_url=False, include_context=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return InvalidJsonError(_clip(first["msg"], MAX_MESSAGE_CHARS))
    paths = [_field_path(error["loc"]) for error in errors]
    fields = tuple(dict.fromkeys(paths))[:_MAX_FIELDS]
    version_problems = [
        problem for error in errors if (problem := _version_problem(error, event_type))
    ]
    if version_problems:
        return UnsupportedVersionError("; ".join(version_problems), fields)
    return SchemaViolationError(_summary(paths, errors), fields)


def _version_problem(error: ErrorDetails, event_type: str) -> str | None:
    """Tell a well-formed event of another kind or major version from a malformed one."""
    loc, kind, value = error["loc"], error["type"], error["input"]
    if loc == ("event_type",) and kind == "literal_error" and isinstance(value, str):
        return f"event_type: this consumer reads only '{event_type}'"
    if loc == ("schema_version",) and kind == "string_pattern_mismatch" and isinstance(value, str):
        match = _WELL_FORMED_VERSION.fullmatch(value)
        if match is not None and (major := int(match.group(1))) != 1:
            return f"schema_version: major version {major} is not supported; expected 1.x"
    return None


def _summary(paths: list[str], errors: list[ErrorDetails]) -> str:
    parts = [
        f"{path}: {_clip(_rule(error), _MAX_RULE_CHARS)}"
        for path, error in zip(paths, errors, strict=True)
    ][:_MAX_ERRORS_IN_MESSAGE]
    if len(errors) > _MAX_ERRORS_IN_MESSAGE:
        parts.append(f"and {len(errors) - _MAX_ERRORS_IN_MESSAGE} more")
    return _clip("; ".join(parts), MAX_MESSAGE_CHARS)


def _rule(error: ErrorDetails) -> str:
    return _INPUT_QUOTING_MESSAGES.get(error["type"], error["msg"])


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "(root)"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
