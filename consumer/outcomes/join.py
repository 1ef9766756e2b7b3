"""Records of the four streams the outcomes joiner reads, as rows of its store (pure: no Kafka).

Scores (the output topic: champion and canary) and shadow scores give one row per application,
model version and role; applications give the loan amount and the applicant's bounded groups
(age band, marital status: never the age itself); outcomes give whether the loan defaulted.
A record that does not decode is counted by stream and skipped: the joiner observes, it never
dead-letters what the scorer already handled.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from consumer.outcomes.store import ApplicationRow, OutcomeRow, ScoreRow, StoreBatch
from impact.pairs import KNOCK_OUT_PREFIX, age_band
from schemas.decode import decode_application, decode_loan_outcome, decode_loan_scored
from schemas.errors import EventDecodeError
from schemas.score_v1 import ModelRole

logger = logging.getLogger(__name__)

Stream = Literal["scores", "shadow", "applications", "outcomes"]


@dataclass(frozen=True, slots=True)
class JoinRecord:
    stream: Stream
    topic: str
    partition: int
    offset: int
    value: bytes | None


def score_row(value: bytes | None, *, shadow_topic: bool) -> ScoreRow:
    """A score's row. On the shadow topic the role is shadow whatever the record says; on the
    output topic a record without a role (one model served, or a 1.0/1.1 event) is the
    champion's."""
    event = decode_loan_scored(value)
    role = ModelRole.SHADOW if shadow_topic else (event.model_role or ModelRole.CHAMPION)
    return ScoreRow(
        application_id=event.application_id,
        model_version=event.model_version,
        role=role.value,
        policy_version=event.policy_version,
        pd=event.probability_of_default,
        grade=event.risk_grade.value,
        decision=event.decision.value,
        knock_outs=" ".join(
            reason.code for reason in event.reasons if reason.code.startswith(KNOCK_OUT_PREFIX)
        ),
        scored_at=event.scored_at.isoformat(),
    )


def application_row(value: bytes | None) -> ApplicationRow:
    event = decode_application(value)
    return ApplicationRow(
        application_id=event.application_id,
        exposure=event.loan.amount,
        age_band=age_band(event.applicant.age),
        marital_status=event.applicant.marital_status.value,
    )


def outcome_row(value: bytes | None) -> OutcomeRow:
    event = decode_loan_outcome(value)
    return OutcomeRow(
        application_id=event.application_id,
        defaulted=event.defaulted,
        observed_at=event.observed_at.isoformat(),
        source=event.source,
    )


def store_batch(records: Iterable[JoinRecord]) -> tuple[StoreBatch, Counter[Stream]]:
    """The rows of a batch in record order (a later record of a key replaces an earlier one),
    the offset after the last record of each partition, and the invalid records by stream."""
    batch = StoreBatch(scores=[], applications=[], outcomes=[], next_offsets={})
    next_offsets: dict[tuple[str, int], int] = {}
    invalid: Counter[Stream] = Counter()
    for record in records:
        next_offsets[(record.topic, record.partition)] = record.offset + 1
        try:
            if record.stream == "applications":
                batch.applications.append(application_row(record.value))
            elif record.stream == "outcomes":
                batch.outcomes.append(outcome_row(record.value))
            else:
                batch.scores.append(score_row(record.value, shadow_topic=record.stream == "shadow"))
        except EventDecodeError as error:
            invalid[record.stream] += 1
            logger.info(
                "record skipped by the outcomes joiner",
                extra={
                    "topic": record.topic,
                    "offset": record.offset,
                    "reason": error.reason.value,
                },
            )
    batch.next_offsets = next_offsets
    return batch, invalid
