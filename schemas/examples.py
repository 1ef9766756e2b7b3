"""Valid example events, so every test states only the field it is about.

Shared by the schema tests, the consumer's tests and demo producers; the defaults are fixed, so two
calls give equal events unless told otherwise.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import orjson

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import decode_application
from schemas.score_v1 import Decision, LoanScored, Reason, RiskGrade, loan_scored_for


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Pass as an override value to drop that key, e.g. `finances={"debt": MISSING}`."""

EXAMPLE_EVENT_ID = "7f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"
EXAMPLE_SCORED_EVENT_ID = UUID("0b0e3c8a-5d6f-4e1a-9b2c-3d4e5f6a7b8c")

_APPLICATION: dict[str, Any] = {
    "event_id": EXAMPLE_EVENT_ID,
    "event_type": "loan_application.submitted",
    "schema_version": "1.0",
    "occurred_at": "2024-05-01T12:00:00+02:00",
    "application_id": "app-000001",
    "applicant": {
        "age": 35,
        "marital_status": "married",
        "home_ownership": "owner",
        "job_type": "fixed",
        "job_seniority_years": 8,
        "has_prior_records": False,
    },
    "finances": {"monthly_income": 2100.0, "monthly_expenses": 650.0, "assets": 15000.0, "debt": 0},
    "loan": {"amount": 1000, "term_months": 36, "purchase_price": 1400},
}
_SECTIONS = ("applicant", "finances", "loan")


def example_application(**overrides: Any) -> dict[str, Any]:
    """A valid v1 application as the JSON-shaped dict a producer sends.

    Overrides replace top-level keys; a dict given for `applicant`, `finances` or `loan` updates
    that section instead of replacing it. `MISSING` removes a key.
    """
    event = copy.deepcopy(_APPLICATION)
    for key, value in overrides.items():
        if key in _SECTIONS and isinstance(value, dict):
            section = event[key]
            section.update(value)
            event[key] = {k: v for k, v in section.items() if v is not MISSING}
        elif value is MISSING:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def example_application_json(**overrides: Any) -> bytes:
    return orjson.dumps(example_application(**overrides))


def example_application_event(**overrides: Any) -> LoanApplicationSubmitted:
    return decode_application(example_application_json(**overrides))


def example_loan_scored(**overrides: Any) -> LoanScored:
    """A valid `LoanScored` for the example application; keyword arguments of `loan_scored_for`
    override the defaults."""
    arguments: dict[str, Any] = {
        "model_version": "example-model-1",
        "policy_version": "example-policy-1",
        "probability_of_default": 0.08,
        "risk_grade": RiskGrade.B,
        "decision": Decision.APPROVE,
        "reasons": [
            Reason(
                code="LOW_INCOME",
                feature="monthly_income",
                description="Monthly income is low for the amount requested",
            )
        ],
        "scored_at": datetime(2024, 5, 1, 10, 0, 1, tzinfo=UTC),
        "event_id": EXAMPLE_SCORED_EVENT_ID,
    }
    arguments.update(overrides)
    return loan_scored_for(example_application_event(), **arguments)
