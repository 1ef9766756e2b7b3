"""`LoanScored` v1: the output contract (the scores topic, key = application_id, like the input).

It is the audit record of an automated credit decision: from this event alone one can tell which
application was decided, by which model and which policy, with what result, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID, uuid4

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.fields import ApplicationId, Contract, Probability, SchemaVersion1, UtcTimestamp

EVENT_TYPE: Final = "loan_application.scored"
SCHEMA_VERSION = "1.2"
MAX_REASONS = 16

VersionLabel = Annotated[str, Field(min_length=1, max_length=128)]


class RiskGrade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class ModelRole(StrEnum):
    """Which part a model played for this score (since 1.2)."""

    CHAMPION = "champion"  # the acting model: the CRM acts on its decision
    CANARY = "canary"  # a challenger acting for a stable share of applications
    SHADOW = "shadow"  # a challenger scored beside the champion (shadow topic), not acted on


class Decision(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    DECLINE = "decline"


class Reason(Contract):
    """One reason behind a decision; downstream systems key on `code`, people read `description`."""

    code: Annotated[
        str,
        Field(
            pattern=r"^[A-Z][A-Z0-9_]{1,63}$",
            description="Stable upper-snake-case code; new codes may appear in any 1.x.",
        ),
    ]
    feature: Annotated[str, Field(min_length=1, max_length=64)]
    description: Annotated[str, Field(min_length=1, max_length=256)]


class LoanScored(Contract):
    """The score, grade and decision for one application, with the versions that produced it."""

    event_id: Annotated[UUID, Field(description="New for this event, not the source's id.")]
    event_type: Literal["loan_application.scored"]
    schema_version: SchemaVersion1
    source_event_id: Annotated[UUID, Field(description="`event_id` of the scored application.")]
    application_id: ApplicationId
    model_version: VersionLabel
    policy_version: VersionLabel
    probability_of_default: Probability
    risk_grade: RiskGrade
    decision: Decision
    reasons: Annotated[
        tuple[Reason, ...],
        Field(max_length=MAX_REASONS, description="Most important first; codes are unique."),
    ]
    scored_at: UtcTimestamp
    out_of_range_fields: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$")], ...],
        Field(
            max_length=16,
            description=(
                "Since 1.1. Input fields outside the range of the model's training data, e.g. "
                "`finances.monthly_income`: the score is an extrapolation. Empty when none; "
                "absent from 1.0 events, which a reader treats as empty."
            ),
        ),
    ] = ()
    model_role: Annotated[
        ModelRole | None,
        Field(
            description=(
                "Since 1.2. `champion` (the acting model), `canary` (a challenger acting for a "
                "stable share of applications) or `shadow` (a challenger's score on the shadow "
                "topic, never acted on). Null or absent: the only model served, read as "
                "`champion`."
            ),
        ),
    ] = None

    @field_validator("reasons")
    @classmethod
    def _reasons_explain_the_decision(
        cls, reasons: tuple[Reason, ...], info: ValidationInfo
    ) -> tuple[Reason, ...]:
        # An adverse decision without a reason cannot be explained to the applicant or an auditor.
        if not reasons and info.data.get("decision") in (Decision.REVIEW, Decision.DECLINE):
            raise PydanticCustomError(
                "reasons_required", "A review or decline must give at least one reason"
            )
        codes = [reason.code for reason in reasons]
        if len(set(codes)) != len(codes):
            raise PydanticCustomError("reasons_unique", "Reason codes must be unique")
        return reasons


def loan_scored_for(
    application: LoanApplicationSubmitted,
    *,
    model_version: str,
    policy_version: str,
    probability_of_default: float,
    risk_grade: RiskGrade | str,
    decision: Decision | str,
    reasons: Iterable[Reason | Mapping[str, str]],
    scored_at: datetime | None = None,
    event_id: UUID | None = None,
    out_of_range_fields: Iterable[str] = (),
    model_role: ModelRole | str | None = None,
) -> LoanScored:
    """Build the output event for `application`, filling in what must not be left to the caller.

    Ids, key and versions come from the source event so they cannot disagree with it; plain
    strings and numpy floats are coerced here, because the model itself is strict.
    """
    if scored_at is None:
        scored_at = datetime.now(UTC)
    elif scored_at.tzinfo is not None:
        scored_at = scored_at.astimezone(UTC)
    return LoanScored(
        event_id=event_id if event_id is not None else uuid4(),
        event_type=EVENT_TYPE,
        schema_version=SCHEMA_VERSION,
        source_event_id=application.event_id,
        application_id=application.application_id,
        model_version=model_version,
        policy_version=policy_version,
        probability_of_default=float(probability_of_default),
        risk_grade=RiskGrade(risk_grade),
        decision=Decision(decision),
        reasons=tuple(
            reason if isinstance(reason, Reason) else Reason.model_validate(reason)
            for reason in reasons
        ),
        scored_at=scored_at,
        out_of_range_fields=tuple(out_of_range_fields),
        model_role=None if model_role is None else ModelRole(model_role),
    )
