"""Headers that say why a record was dead-lettered, in Kafka Connect's DLQ convention.

The record itself goes to the DLQ with its original key, value, headers and timestamp untouched
(as Connect's `DeadLetterQueueReporter` does); only these headers are added. Using Connect's
`__connect.errors.*` names means existing DLQ tooling and runbooks read our dead letters too.
Connect has no header for a reason class or the time of failure, so those two live under our own
`__loan_scorer.errors.*` prefix. See schemas/README.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.errors import MAX_MESSAGE_CHARS, DeadLetterReason, EventDecodeError

CONNECT_PREFIX = "__connect.errors."
HEADER_TOPIC = CONNECT_PREFIX + "topic"
HEADER_PARTITION = CONNECT_PREFIX + "partition"
HEADER_OFFSET = CONNECT_PREFIX + "offset"
HEADER_EXCEPTION_CLASS = CONNECT_PREFIX + "exception.class.name"
HEADER_EXCEPTION_MESSAGE = CONNECT_PREFIX + "exception.message"

LOAN_SCORER_PREFIX = "__loan_scorer.errors."
HEADER_REASON = LOAN_SCORER_PREFIX + "reason"
HEADER_TIMESTAMP = LOAN_SCORER_PREFIX + "timestamp"
# A dead letter whose value had to be cut (reason `unwritable`): what the original was.
HEADER_ORIGINAL_SIZE = LOAN_SCORER_PREFIX + "original.size"
HEADER_ORIGINAL_SHA256 = LOAN_SCORER_PREFIX + "original.sha256"
# A conflicting duplicate: the input offset where the first event with this id was scored.
HEADER_FIRST_OFFSET = LOAN_SCORER_PREFIX + "first.offset"

_OUR_PREFIXES = (CONNECT_PREFIX, LOAN_SCORER_PREFIX)

Headers = list[tuple[str, bytes]]
RecordHeaders = Sequence[tuple[str, str | bytes | None]]


@dataclass(frozen=True, slots=True)
class DeadLetterContext:
    """What the dead-letter headers of one record say, read back."""

    topic: str
    partition: int
    offset: int
    exception_class: str
    message: str
    reason: DeadLetterReason
    failed_at: datetime


def dead_letter_headers(
    error: EventDecodeError, *, topic: str, partition: int, offset: int, failed_at: datetime
) -> Headers:
    """The error headers for a record read from `topic`/`partition`/`offset`.

    Pure (the caller passes the clock) so that tests and replays get the same bytes.
    """
    if failed_at.tzinfo is None:
        raise ValueError("failed_at must be timezone-aware")
    error_class = type(error)
    message = error.message
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    when = failed_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        (HEADER_TOPIC, topic.encode()),
        (HEADER_PARTITION, str(partition).encode()),
        (HEADER_OFFSET, str(offset).encode()),
        (HEADER_EXCEPTION_CLASS, f"{error_class.__module__}.{error_class.__qualname__}".encode()),
        (HEADER_EXCEPTION_MESSAGE, message.encode()),
        (HEADER_REASON, str(error.reason).encode()),
        (HEADER_TIMESTAMP, when.encode()),
    ]


def original_value_headers(value: bytes | None) -> Headers:
    """Size and SHA-256 of a value that is dead-lettered truncated, so the full record can be
    found (and proved) upstream from its position, and the cut copy checked against it."""
    data = value or b""
    return [
        (HEADER_ORIGINAL_SIZE, str(len(data)).encode()),
        (HEADER_ORIGINAL_SHA256, hashlib.sha256(data).hexdigest().encode()),
    ]


def with_dead_letter_headers(
    original: RecordHeaders | None, error_headers: Headers
) -> list[tuple[str, str | bytes | None]]:
    """The original record's headers with the error headers appended.

    Error headers from an earlier failure (a replayed dead letter) are dropped first, so the
    record describes its latest failure once rather than two failures ambiguously.
    """
    kept = [(name, value) for name, value in original or () if not name.startswith(_OUR_PREFIXES)]
    return [*kept, *error_headers]


def parse_dead_letter_headers(headers: RecordHeaders | None) -> DeadLetterContext:
    """Read the error headers back (the last occurrence of each wins); raise ValueError if any
    is missing or malformed."""
    found: dict[str, str] = {}
    for name, value in headers or ():
        if name.startswith(_OUR_PREFIXES) and value is not None:
            found[name] = value.decode() if isinstance(value, bytes) else value

    def get(name: str) -> str:
        if name not in found:
            raise ValueError(f"dead-letter header {name} is missing")
        return found[name]

    failed_at = datetime.fromisoformat(get(HEADER_TIMESTAMP))
    if failed_at.tzinfo is None:
        raise ValueError(f"dead-letter header {HEADER_TIMESTAMP} has no time zone")
    return DeadLetterContext(
        topic=get(HEADER_TOPIC),
        partition=int(get(HEADER_PARTITION)),
        offset=int(get(HEADER_OFFSET)),
        exception_class=get(HEADER_EXCEPTION_CLASS),
        message=get(HEADER_EXCEPTION_MESSAGE),
        reason=DeadLetterReason(get(HEADER_REASON)),
        failed_at=failed_at,
    )
