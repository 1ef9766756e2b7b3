"""`LoanOutcome` v1: what became of a loan (the outcomes topic, key = application_id).

The loop between a decision and its consequence: the servicing system publishes, once it is known,
whether the applicant defaulted. `loan-scorer outcomes` joins it to every score the application
received (champion, canary, shadow) to measure each model on real outcomes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Literal
from uuid import UUID, uuid4

from pydantic import Field

from schemas.fields import ApplicationId, Contract, SchemaVersion1, UtcTimestamp

EVENT_TYPE: Final = "loan_application.outcome_observed"
SCHEMA_VERSION = "1.0"


class LoanOutcome(Contract):
    """Whether the loan of one application defaulted, as observed by `source`."""

    event_id: Annotated[UUID, Field(description="Unique per event.")]
    event_type: Literal["loan_application.outcome_observed"]
    schema_version: SchemaVersion1
    application_id: ApplicationId
    defaulted: Annotated[
        bool,
        Field(
            description=(
                "True when the loan went bad (the event the probability of default estimates)."
            )
        ),
    ]
    observed_at: Annotated[UtcTimestamp, Field(description="When the outcome was established.")]
    source: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            description="Which system established the outcome, e.g. `servicing` or a replay.",
        ),
    ]


def loan_outcome_for(
    application_id: str,
    *,
    defaulted: bool,
    source: str,
    observed_at: datetime | None = None,
    event_id: UUID | None = None,
) -> LoanOutcome:
    """Build an outcome event, filling in the id, type and version (and the time, in UTC)."""
    observed = datetime.now(UTC) if observed_at is None else observed_at.astimezone(UTC)
    return LoanOutcome(
        event_id=event_id if event_id is not None else uuid4(),
        event_type=EVENT_TYPE,
        schema_version=SCHEMA_VERSION,
        application_id=application_id,
        defaulted=bool(defaulted),
        observed_at=observed,
        source=source,
    )
