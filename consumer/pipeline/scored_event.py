"""A `ScoreResult` as the `LoanScored` event: one mapping for the stream and the HTTP API.

Both paths publish the same audit record for the same decision, so the mapping lives once; a
second copy would drift (a reason field dropped here, a version taken from elsewhere there).
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Final

import orjson
from pydantic import ValidationError

from consumer.records import ScoredFact
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.encode import encode_loan_scored
from schemas.score_v1 import (
    EVENT_TYPE,
    MAX_REASONS,
    SCHEMA_VERSION,
    Decision,
    LoanScored,
    ModelRole,
    Reason,
    RiskGrade,
    loan_scored_for,
)
from scoring.reasons import Reason as ScoringReason
from scoring.scorer import ScoreResult


def loan_scored_event(
    application: LoanApplicationSubmitted,
    result: ScoreResult,
    *,
    scored_at: datetime,
    model_role: ModelRole | None = None,
) -> LoanScored:
    """Raises pydantic's `ValidationError` if the contract rejects the result; callers turn that
    into a scoring error for this one record. `model_role` is None when one model is served."""
    return loan_scored_for(
        application,
        model_version=result.model_version,
        policy_version=result.policy_version,
        probability_of_default=result.probability_of_default,
        risk_grade=result.risk_grade,
        decision=result.decision,
        reasons=[_contract_reason(reason) for reason in result.reasons],
        out_of_range_fields=result.out_of_range,
        scored_at=scored_at,
        model_role=model_role,
    )


def scored_fact(
    application: LoanApplicationSubmitted,
    result: ScoreResult,
    model_role: ModelRole | None = None,
    record_timestamp_ms: int | None = None,
) -> ScoredFact:
    """A published score as metrics see it: the champion's, a canary's or a shadow's.
    `record_timestamp_ms` is the input record's Kafka timestamp as the client gives it (-1 or
    None when the record has none), which dates the processing latency."""
    return ScoredFact(
        decision=result.decision,
        model_version=result.model_version,
        probability_of_default=result.probability_of_default,
        occurred_at_epoch_s=application.occurred_at.timestamp(),
        out_of_range=result.out_of_range,
        model_role=model_role,
        event_id=str(application.event_id),
        record_timestamp_epoch_s=(
            record_timestamp_ms / 1000
            if record_timestamp_ms is not None and record_timestamp_ms > 0
            else None
        ),
    )


_GRADES: Final = frozenset(grade.value for grade in RiskGrade)
_ADVERSE: Final = frozenset({Decision.REVIEW.value, Decision.DECLINE.value})
_DECISIONS: Final = frozenset(decision.value for decision in Decision)
_MAX_VERSION_LENGTH: Final = 128
_MAX_OUT_OF_RANGE: Final = 16


def loan_scored_json(
    application: LoanApplicationSubmitted,
    result: ScoreResult,
    *,
    scored_at: datetime,
    event_id: str | None = None,
    model_role: ModelRole | None = None,
) -> bytes:
    """The bytes `encode_loan_scored(loan_scored_event(...))` gives, at a third of the cost.

    The stream builds one `LoanScored` per event only to serialise it, and its validation (a
    pydantic model, a validator that copies the fields it has seen) was a quarter of the
    scorer's time. The application was validated on the way in and the reasons once each (see
    `_contract_reason`); what remains is checked here in plain Python: a result that passes
    these checks is one the contract accepts, and anything else takes the validating path, which
    raises pydantic's `ValidationError` with the rule it broke. A differential test holds the
    two paths to the same bytes over the data set and generated results.
    """
    if scored_at.tzinfo is not None and scored_at.tzinfo is not UTC:
        scored_at = scored_at.astimezone(UTC)  # as `loan_scored_for` does
    if not _plainly_within_contract(result, scored_at):
        return encode_loan_scored(
            loan_scored_event(application, result, scored_at=scored_at, model_role=model_role)
        )
    return orjson.dumps(
        {
            "event_id": event_id if event_id is not None else _uuid4_str(),
            "event_type": EVENT_TYPE,
            "schema_version": SCHEMA_VERSION,
            "source_event_id": str(application.event_id),
            "application_id": application.application_id,
            "model_version": result.model_version,
            "policy_version": result.policy_version,
            "probability_of_default": float(result.probability_of_default),
            "risk_grade": result.risk_grade,
            "decision": result.decision,
            "reasons": [_reason_fields(reason) for reason in result.reasons],
            "scored_at": scored_at,
            "out_of_range_fields": list(result.out_of_range),
            "model_role": None if model_role is None else model_role.value,
        },
        option=orjson.OPT_UTC_Z,
    )


def _plainly_within_contract(result: ScoreResult, scored_at: datetime) -> bool:
    """What `LoanScored` checks beyond the application and the reasons themselves."""
    pd = float(result.probability_of_default)
    reasons = result.reasons
    return (
        0.0 <= pd <= 1.0  # also false for NaN
        and result.risk_grade in _GRADES
        and result.decision in _DECISIONS
        and 0 < len(result.model_version) <= _MAX_VERSION_LENGTH
        and 0 < len(result.policy_version) <= _MAX_VERSION_LENGTH
        and len(reasons) <= MAX_REASONS
        and (bool(reasons) or result.decision not in _ADVERSE)
        and len({reason.code for reason in reasons}) == len(reasons)
        and len(result.out_of_range) <= _MAX_OUT_OF_RANGE
        and all(_field_name_ok(name) for name in result.out_of_range)
        and scored_at.utcoffset() == _ZERO_OFFSET
    )


_ZERO_OFFSET: Final = datetime(2000, 1, 1, tzinfo=UTC).utcoffset()


@functools.cache
def _field_name_ok(name: str) -> bool:
    """An out-of-range field name as the contract's pattern wants it (checked once per name)."""
    try:
        LoanScored.model_validate_json(orjson.dumps({**_PROBE, "out_of_range_fields": [name]}))
    except ValidationError:
        return False
    return True


@functools.cache
def _reason_fields(reason: ScoringReason) -> dict[str, str]:
    """A reason as the contract serialises it, validated once per distinct reason."""
    contract = _contract_reason(reason)
    return {"code": contract.code, "feature": contract.feature, "description": contract.description}


def _uuid4_str() -> str:
    """A random (version 4) UUID in its canonical text, without building a `uuid.UUID`."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# A valid event, to check one field at a time against the contract itself.
_PROBE: Final = {
    "event_id": "00000000-0000-4000-8000-000000000000",
    "event_type": EVENT_TYPE,
    "schema_version": SCHEMA_VERSION,
    "source_event_id": "00000000-0000-4000-8000-000000000000",
    "application_id": "probe-1",
    "model_version": "probe",
    "policy_version": "probe",
    "probability_of_default": 0.5,
    "risk_grade": "A",
    "decision": "approve",
    "reasons": [],
    "scored_at": "2026-01-01T00:00:00Z",
}


@functools.cache
def _contract_reason(reason: ScoringReason) -> Reason:
    """The contract's `Reason` for one of the scorer's: validated once per distinct reason (a
    catalogue of a few dozen), not three times per event."""
    return Reason(code=reason.code, feature=reason.feature, description=reason.description)


def contract_rejection(error: ValidationError) -> str:
    """Why `LoanScored` refused a result, by field path and rule only: the values are the
    applicant's and go neither to logs nor to headers nor to clients."""
    parts = [
        ".".join(str(part) for part in detail["loc"]) + ": " + detail["msg"]
        for detail in error.errors(include_url=False, include_input=False)[:3]
    ]
    return "LoanScored rejected the result: " + "; ".join(parts)
