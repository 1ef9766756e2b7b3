"""Why an event could not be decoded, as a small closed set of dead-letter reasons.

The reason is a metrics label and a DLQ header, so it must stay a handful of fixed strings; the
exception message carries the detail (which fields, which rule) and is kept short and free of the
applicant's values because it ends up in logs and record headers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

# Messages go into record headers and log lines; past this length they are cut.
MAX_MESSAGE_CHARS = 512


class DeadLetterReason(StrEnum):
    OVERSIZE = "oversize"
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNSUPPORTED_VERSION = "unsupported_version"
    SCORING_ERROR = "scoring_error"
    UNWRITABLE = "unwritable"
    UNKNOWN_SCHEMA = "unknown_schema"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"


class EventDecodeError(ValueError):
    """Base of every decoding failure, so the consumer needs one `except` per record."""

    reason: ClassVar[DeadLetterReason]

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class OversizeError(EventDecodeError):
    reason = DeadLetterReason.OVERSIZE


class InvalidJsonError(EventDecodeError):
    reason = DeadLetterReason.INVALID_JSON


class SchemaViolationError(EventDecodeError):
    reason = DeadLetterReason.SCHEMA_VIOLATION


class UnsupportedVersionError(EventDecodeError):
    reason = DeadLetterReason.UNSUPPORTED_VERSION


class RecordScoringError(EventDecodeError):
    """A valid event the model could not score (e.g. a non-finite probability). Not a decoding
    failure, but it takes the same path: a dead letter with a reason, never a stopped batch."""

    reason = DeadLetterReason.SCORING_ERROR


class ConflictingDuplicateError(EventDecodeError):
    """An `event_id` scored before within the deduplication window, with different content: not
    an upstream retry (which would repeat the event) but two events under one id. Neither is
    guessed right: the first keeps its score, this one is dead-lettered for upstream to resolve."""

    reason = DeadLetterReason.CONFLICTING_DUPLICATE


class OutputRefusedError(EventDecodeError):
    """The record made from a valid or invalid event could not be written (the broker or the
    client refused it after bounded attempts: too large, a timestamp out of bounds, an ACL). The
    event is dead-lettered truncated, with the original's size and hash, so the partition moves
    on and nothing is lost without a trace."""

    reason = DeadLetterReason.UNWRITABLE


_MAX_CODE_CHARS = 64


def scoring_failure_code(error_type: str) -> str:
    """A fixed-alphabet code for why the model could not score a record, from the failing
    exception's class name. The exception's text is never used: it may quote the applicant's
    values (pydantic's and numpy's messages do), and it would reach a dead-letter header, a log
    line or a client."""
    if error_type.isidentifier() and error_type.isascii() and len(error_type) <= _MAX_CODE_CHARS:
        return error_type
    return "ScoringFailed"


def scoring_failure_message(error_type: str) -> str:
    """The dead-letter and log message of a record the model could not score."""
    return f"the model could not score this application ({scoring_failure_code(error_type)})"


class UnknownSchemaError(EventDecodeError):
    """A record in the schema registry's wire format whose schema id the registry does not hold,
    or holds but not as a version of the input topic's subject: nothing vouches that its JSON
    follows a contract this consumer reads, so it is not guessed at (see schemas/wire.py)."""

    reason = DeadLetterReason.UNKNOWN_SCHEMA
