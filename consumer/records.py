"""What one micro-batch turns into: the records to publish, and the facts metrics need.

Kept apart from the Kafka loop so the loop knows nothing about scoring and the pipeline nothing
about transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.errors import DeadLetterReason
from scoring.drift import BinCounts

UNWRITABLE_REASON = DeadLetterReason.UNWRITABLE.value

RecordHeaders = list[tuple[str, str | bytes | None]]

# Clocks, named by what they return; a `clock` parameter's type says which one it wants.
# Seconds since the Unix epoch (time.time): comparable with event times and record timestamps.
EpochClock = Callable[[], float]
# Seconds that never go back (time.monotonic): for deadlines and intervals, never for a date.
MonotonicClock = Callable[[], float]
# The current time as an aware UTC datetime (`utc_now`): what a published record is stamped with.
UtcClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_bytes(data: str | bytes | None) -> bytes | None:
    """A record's key or value as bytes (the client's type allows str; UTF-8 is Kafka's)."""
    return data.encode() if isinstance(data, str) else data


def header_list(headers: dict[str, str | bytes | None] | RecordHeaders | None) -> RecordHeaders:
    """librdkafka's headers as the one shape our code reads (a client may hand over a dict)."""
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, dict) else headers


class InboundMessage(Protocol):
    """The part of a consumed Kafka message the pipeline reads (confluent_kafka.Message has it)."""

    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def headers(
        self,
    ) -> dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None: ...


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]] | None = None
    timestamp_ms: int | None = None  # None: the producer stamps the current time
    partition: int | None = None  # None: the partitioner chooses (by key)
    # A score's event id, never sent: the batch writer names it when the score is replaced by a
    # truncated dead letter, so the id leaves the changelog and the state (issue 22, 6b).
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredFact:
    """One published score, as metrics see it (no personal data)."""

    decision: str
    model_version: str
    probability_of_default: float
    occurred_at_epoch_s: float
    out_of_range: tuple[str, ...] = ()
    model_role: str | None = None  # None: the only model served (a champion)
    event_id: str | None = None  # to take the fact back when its score was never published
    # The input record's Kafka timestamp; None when the record had none (or for a shadow score).
    record_timestamp_epoch_s: float | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """Every input message of a batch ends up in `records` exactly once: as a score or as a
    dead letter, in input order (so per-key order is kept on the output topic); except an
    upstream duplicate of an event already scored, whose position is in `skipped` and which
    has no record at all. With deduplication on, each score's event id also goes to
    `changelog`, written in the same transaction."""

    records: list[OutboundRecord]
    scored: list[ScoredFact] = field(default_factory=list)
    dead_letter_reasons: list[str] = field(default_factory=list)
    skipped: tuple[int, ...] = ()  # input positions of upstream duplicates
    changelog: list[OutboundRecord] = field(default_factory=list)
    scoring_seconds: float = 0.0
    drift: BinCounts | None = None  # the published scores' bins; added to the window on commit
    # The applications behind `scored`, in the same order, for challengers scoring in shadow
    # (consumer/pipeline/challengers.py); their records go to `shadow`, in the same transaction.
    applications: tuple[LoanApplicationSubmitted, ...] = ()
    shadow: list[OutboundRecord] = field(default_factory=list)
    shadow_scored: list[ScoredFact] = field(default_factory=list)
    shadow_failures: tuple[str, ...] = ()  # model versions, one per application a shadow missed

    @property
    def duplicates(self) -> int:
        return len(self.skipped)

    def without_scores(self, event_ids: Collection[str]) -> BatchOutcome:
        """The outcome as published when the scores of `event_ids` were replaced by truncated
        dead letters (delivery/batch_writer.py): no decision for them, one `unwritable` dead
        letter each. The drift bins keep them: a bin per score is not kept apart."""
        gone = set(event_ids)
        if not gone:
            return self
        kept = [fact for fact in self.scored if fact.event_id not in gone]
        replaced = len(self.scored) - len(kept)
        return replace(
            self,
            scored=kept,
            dead_letter_reasons=[*self.dead_letter_reasons, *[UNWRITABLE_REASON] * replaced],
        )


class BatchProcessor(Protocol):
    def __call__(self, messages: Sequence[InboundMessage]) -> BatchOutcome: ...
