"""One micro-batch from raw records to the records to publish: decode, validate, score, encode.

Pure apart from the clock it is given and, with deduplication on, the store of scored ids it
asks (consumer/state): no Kafka here, so every branch (valid, each kind of invalid, a record the
model cannot score, an upstream duplicate) is unit-tested on plain objects. Every input record
yields exactly one output record, a `LoanScored` or a dead letter, in input order, except an
upstream duplicate of an event already scored with the same content, which yields none and is
counted (one with different content is dead-lettered `conflicting_duplicate`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
from pydantic import ValidationError

from consumer.pipeline.dedup import (
    ScoredIds,
    Seen,
    changelog_batch_key,
    changelog_batch_value,
    verdict,
)
from consumer.pipeline.scored_event import contract_rejection, loan_scored_json, scored_fact
from consumer.records import (
    BatchOutcome,
    InboundMessage,
    OutboundRecord,
    ScoredFact,
    UtcClock,
    as_bytes,
    header_list,
    utc_now,
)
from consumer.state.hashing import content_hash
from consumer.state.scored_id import ScoredId
from consumer.telemetry.drift import DriftMonitor
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.dead_letter import HEADER_FIRST_OFFSET, dead_letter_headers, with_dead_letter_headers
from schemas.decode import decode_application
from schemas.errors import (
    ConflictingDuplicateError,
    EventDecodeError,
    RecordScoringError,
    scoring_failure_message,
)
from schemas.score_v1 import ModelRole
from schemas.wire import FramedApplicationDecoder, WriterSchema
from scoring.artifact import LoadedModel
from scoring.features import build_features
from scoring.policy import Policy
from scoring.scorer import ScoreError, ScoreResult, score_batch_isolated

logger = logging.getLogger(__name__)

# The plain JSON of a LoanScored -> the record value in a schema registry's wire format.
ScoreFraming = Callable[[bytes], bytes]


# Event ids named in the one line a batch of upstream duplicates logs: a storm of re-sent events
# (an upstream replaying a day) would otherwise write a line per event; the counter counts all.
DUPLICATES_NAMED_PER_LINE: Final = 20


def log_duplicates(duplicates: list[tuple[str, int]]) -> None:
    """One line per batch: how many, and the first ids with the offset of their first score."""
    named = duplicates[:DUPLICATES_NAMED_PER_LINE]
    logger.info(
        "upstream duplicates not scored again",
        extra={
            "count": len(duplicates),
            "event_ids": [event_id for event_id, _ in named],
            "first_offsets": [offset for _, offset in named],
        },
    )


class ScoringPipeline:
    """Turns a batch of input messages into scores and dead letters (see module docstring)."""

    def __init__(
        self,
        model: LoadedModel,
        policy: Policy,
        *,
        output_topic: str,
        dlq_topic: str,
        clock: UtcClock = utc_now,
        drift: DriftMonitor | None = None,
        seen: ScoredIds | None = None,
        changelog_topic: str | None = None,
        model_role: ModelRole | None = None,
        framed: FramedApplicationDecoder | None = None,
        frame_score: ScoreFraming | None = None,
    ) -> None:
        """`framed` and `frame_score` come from a schema registry when one is configured
        (consumer/kafka/schema_registry.py); without them the input is plain JSON and so is the
        output, as before a registry existed."""
        if (seen is None) != (changelog_topic is None):
            raise ValueError("deduplication needs both the seen-events store and its changelog")
        self._seen = seen
        self._changelog_topic = changelog_topic
        self._model = model
        self._policy = policy
        self._output_topic = output_topic
        self._dlq_topic = dlq_topic
        self._clock = clock
        self._drift = drift
        self._model_role = model_role
        self._framed = framed
        self._frame_score = frame_score

    def __call__(self, messages: Sequence[InboundMessage]) -> BatchOutcome:
        started = time.perf_counter()
        records: list[OutboundRecord | None] = [None] * len(messages)
        dead_letter_reasons: list[str] = []
        applications: list[LoanApplicationSubmitted] = []
        positions: list[int] = []
        if self._seen is not None:
            self._seen.prepare((int(m.partition() or 0), int(m.offset() or 0)) for m in messages)
        skipped: list[int] = []
        # Input position -> the registry schema it was written with (framed inputs only).
        writers: dict[int, WriterSchema] = {}
        decoded: list[tuple[int, LoanApplicationSubmitted]] = []
        for position, message in enumerate(messages):
            try:
                if self._framed is None:
                    application = decode_application(as_bytes(message.value()))
                else:
                    application, writer = self._framed(as_bytes(message.value()))
                    if writer is not None:
                        writers[position] = writer
            except EventDecodeError as error:
                records[position] = self._dead_letter(message, error)
                dead_letter_reasons.append(error.reason.value)
                continue
            decoded.append((position, application))
        hashes: dict[int, bytes] = {}
        duplicates: list[tuple[str, int]] = []  # (event_id, offset of its first score)
        if self._seen is None:
            kept = decoded
        else:
            kept = []
            first_seen = _first_seen(self._seen, messages, decoded)
            for position, application in decoded:
                message = messages[position]
                key = (int(message.partition() or 0), str(application.event_id))
                digest = content_hash(application.model_dump_json(exclude={"event_id"}).encode())
                first = first_seen.get(key)
                seen = verdict(first, digest)
                if first is None or seen is Seen.NEW:
                    hashes[position] = digest
                    # A later copy in this batch is judged against this one.
                    first_seen[key] = ScoredId(0.0, digest, int(message.offset() or 0))
                    kept.append((position, application))
                    continue
                if seen is Seen.DUPLICATE:
                    duplicates.append((key[1], first.input_offset))
                    skipped.append(position)
                    continue
                conflict = ConflictingDuplicateError(
                    f"event_id scored before at offset {first.input_offset} with other content"
                )
                records[position] = self._dead_letter(
                    message, conflict, [(HEADER_FIRST_OFFSET, str(first.input_offset).encode())]
                )
                dead_letter_reasons.append(conflict.reason.value)
        if duplicates:
            log_duplicates(duplicates)
        for position, application in kept:
            applications.append(application)
            positions.append(position)

        scored: list[ScoredFact] = []
        # Input partition -> the event ids scored, in order, with what the store keeps.
        scored_ids: dict[int, list[tuple[str, ScoredId]]] = {}
        first_offsets: dict[int, int] = {}
        features = build_features(applications) if applications else None
        scored_rows: list[int] = []
        for row, (position, application, outcome) in enumerate(
            zip(
                positions,
                applications,
                score_batch_isolated(applications, self._model, self._policy, features),
                strict=True,
            )
        ):
            message = messages[position]
            try:
                if isinstance(outcome, ScoreError):
                    # The class name only: the error's text may quote the input (issue 12).
                    raise RecordScoringError(scoring_failure_message(outcome.error_type))
                records[position] = self._score_record(application, outcome, writers.get(position))
            except (RecordScoringError, ValidationError) as error:
                failure = (
                    error
                    if isinstance(error, RecordScoringError)
                    else RecordScoringError(contract_rejection(error))
                )
                logger.warning(
                    "application could not be scored; dead-lettered",
                    extra={"application_id": application.application_id, "error": failure.message},
                )
                records[position] = self._dead_letter(message, failure)
                dead_letter_reasons.append(failure.reason.value)
                continue
            scored.append(
                scored_fact(
                    application,
                    outcome,
                    self._model_role,
                    record_timestamp_ms=message.timestamp()[1],
                )
            )
            scored_rows.append(row)
            self._remember(message, application, hashes.get(position), scored_ids, first_offsets)
        return BatchOutcome(
            records=[record for record in records if record is not None],
            scored=scored,
            dead_letter_reasons=dead_letter_reasons,
            skipped=tuple(skipped),
            changelog=self._changelog(scored_ids, first_offsets),
            scoring_seconds=time.perf_counter() - started,
            drift=self._drift.bin(
                features[scored_rows],
                np.array([fact.probability_of_default for fact in scored]),
            )
            if self._drift is not None and scored and features is not None
            else None,
            applications=tuple(applications[row] for row in scored_rows),
        )

    def _remember(
        self,
        message: InboundMessage,
        application: LoanApplicationSubmitted,
        digest: bytes | None,
        scored_ids: dict[int, list[tuple[str, ScoredId]]],
        first_offsets: dict[int, int],
    ) -> None:
        """Stage a scored event's id for the store and the changelog (nothing when deduplication
        is off)."""
        if self._seen is None or digest is None:
            return
        partition = int(message.partition() or 0)
        event_id = str(application.event_id)
        scored = ScoredId(self._clock().timestamp(), digest, int(message.offset() or 0))
        self._seen.stage(partition, event_id, scored)
        first_offsets.setdefault(partition, int(message.offset() or 0))
        scored_ids.setdefault(partition, []).append((event_id, scored))

    def _changelog(
        self, scored_ids: dict[int, list[tuple[str, ScoredId]]], first_offsets: dict[int, int]
    ) -> list[OutboundRecord]:
        """One changelog record per input partition of the batch, to the changelog partition
        numbered like it, committed with the scores."""
        if self._changelog_topic is None:
            return []
        return [
            OutboundRecord(
                topic=self._changelog_topic,
                key=changelog_batch_key(partition, first_offsets[partition]),
                value=changelog_batch_value(ids),
                partition=partition,
            )
            for partition, ids in scored_ids.items()
        ]

    def _score_record(
        self,
        application: LoanApplicationSubmitted,
        result: ScoreResult,
        writer: WriterSchema | None = None,
    ) -> OutboundRecord:
        value = loan_scored_json(
            application, result, scored_at=self._clock(), model_role=self._model_role
        )
        return OutboundRecord(
            topic=self._output_topic,
            key=application.application_id.encode(),
            value=value if self._frame_score is None else self._frame_score(value),
            headers=writer.headers() if writer is not None else None,
            event_id=str(application.event_id),
        )

    def _dead_letter(
        self,
        message: InboundMessage,
        error: EventDecodeError,
        extra_headers: list[tuple[str, bytes]] | None = None,
    ) -> OutboundRecord:
        """The original key, value, headers and timestamp, plus headers that say why."""
        key = as_bytes(message.key())
        # The key is the application id by contract; the error names fields, never values.
        logger.info(
            "event dead-lettered",
            extra={
                "application_id": key.decode(errors="replace")[:64] if key else None,
                "reason": error.reason.value,
                "error": error.message,
                "partition": message.partition(),
                "offset": message.offset(),
            },
        )
        _timestamp_type, timestamp_ms = message.timestamp()
        headers = dead_letter_headers(
            error,
            topic=str(message.topic()),
            partition=int(message.partition() or 0),
            offset=int(message.offset() or 0),
            failed_at=self._clock(),
        )
        return OutboundRecord(
            topic=self._dlq_topic,
            key=key,
            value=as_bytes(message.value()),
            headers=with_dead_letter_headers(
                header_list(message.headers()), headers + (extra_headers or [])
            ),
            timestamp_ms=timestamp_ms if timestamp_ms > 0 else None,
        )


def _first_seen(
    seen: ScoredIds,
    messages: Sequence[InboundMessage],
    decoded: list[tuple[int, LoanApplicationSubmitted]],
) -> dict[tuple[int, str], ScoredId]:
    """What the store knows of the batch's ids: one lookup per input partition."""
    ids: dict[int, list[str]] = {}
    for position, application in decoded:
        ids.setdefault(int(messages[position].partition() or 0), []).append(
            str(application.event_id)
        )
    return {
        (partition, event_id): scored
        for partition, event_ids in ids.items()
        for event_id, scored in seen.lookup(partition, event_ids).items()
    }
