"""Events to record bytes, through pydantic's Rust serializer (no str round trip)."""

from __future__ import annotations

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.outcome_v1 import LoanOutcome
from schemas.score_v1 import LoanScored


def encode_loan_scored(event: LoanScored) -> bytes:
    return LoanScored.__pydantic_serializer__.to_json(event)


def encode_application(event: LoanApplicationSubmitted) -> bytes:
    """For producers, demos and tests; the scorer itself only reads applications."""
    return LoanApplicationSubmitted.__pydantic_serializer__.to_json(event)


def encode_loan_outcome(event: LoanOutcome) -> bytes:
    """For the servicing system's stand-in (`loan-scorer produce --outcomes`) and tests."""
    return LoanOutcome.__pydantic_serializer__.to_json(event)
