"""A `ScoreResult` as the `LoanScored` event: one mapping for the stream and the HTTP API.

Both paths publish the same audit record for the same decision, so the mapping lives once; a
second copy would drift (a reason field dropped here, a version taken from elsewhere there).
"""

from __future__ import annotations

import functools
from datetime import datetime

from pydantic import ValidationError

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.score_v1 import LoanScored, ModelRole, Reason, loan_scored_for
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
