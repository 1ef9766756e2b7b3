"""Validated applications to response items through the stream's own `score_batch` and mapping.

A record the model cannot score becomes a `ScoreFailure` in its slot, as the stream dead-letters
it with reason `scoring_error`; nothing a client sends can turn into an unhandled exception here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError

from consumer.api.assets import ModelAndPolicy
from consumer.pipeline.scored_event import loan_scored_event
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.encode import encode_loan_scored
from schemas.errors import scoring_failure_code
from schemas.score_v1 import LoanScored
from scoring.scorer import ScoreError, ScoreOutcome, score_batch_isolated

logger = logging.getLogger(__name__)


class ScoreFailure(BaseModel):
    """In a list response, the slot of an application the model could not score."""

    application_id: str
    error: Literal["scoring_error"] = "scoring_error"
    message: Annotated[str, Field(description="Which check failed; never the input's values.")]


ScoredItem = LoanScored | ScoreFailure


def score_applications(
    applications: Sequence[LoanApplicationSubmitted], assets: ModelAndPolicy
) -> list[ScoredItem]:
    """The i-th item answers the i-th application."""
    scored_at = datetime.now(UTC)
    items: list[ScoredItem] = []
    for application, outcome in zip(
        applications,
        score_batch_isolated(applications, assets.model, assets.policy),
        strict=True,
    ):
        items.append(_item(application, outcome, scored_at))
    return items


def encode_item(item: ScoredItem) -> bytes:
    """A score is encoded exactly as the stream publishes it."""
    if isinstance(item, LoanScored):
        return encode_loan_scored(item)
    return item.model_dump_json().encode()


def _item(
    application: LoanApplicationSubmitted, outcome: ScoreOutcome, scored_at: datetime
) -> ScoredItem:
    if isinstance(outcome, ScoreError):
        return _failure(application, scoring_failure_code(outcome.error_type))
    try:
        return loan_scored_event(application, outcome, scored_at=scored_at)
    except ValidationError:
        return _failure(application, "ContractRejected")


def _failure(application: LoanApplicationSubmitted, kind: str) -> ScoreFailure:
    # Only the id and a fixed code: an exception's text may quote the applicant's values.
    logger.warning(
        "application could not be scored over HTTP",
        extra={"application_id": application.application_id, "error_code": kind},
    )
    return ScoreFailure(
        application_id=application.application_id,
        message=f"The model could not score this application ({kind})",
    )
