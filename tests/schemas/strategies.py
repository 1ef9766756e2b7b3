"""Hypothesis strategies for valid v1 applications, as the JSON-shaped dicts producers send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from schemas.application_v1 import HomeOwnership, JobType, MaritalStatus

# Every number field of the contract, by path, and whether it is an integer.
NUMBER_FIELDS: list[tuple[str, str, bool]] = [
    ("applicant", "age", True),
    ("applicant", "job_seniority_years", False),
    ("finances", "monthly_income", False),
    ("finances", "monthly_expenses", False),
    ("finances", "assets", False),
    ("finances", "debt", False),
    ("loan", "amount", False),
    ("loan", "term_months", True),
    ("loan", "purchase_price", False),
]

_non_negative = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
_positive = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)
_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_timestamps = st.builds(
    lambda moment, tz: moment.replace(tzinfo=UTC).astimezone(tz).isoformat(),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    _offsets,
)


def applications() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids().map(str),
            "event_type": st.just("loan_application.submitted"),
            "schema_version": st.integers(0, 999).map(lambda minor: f"1.{minor}"),
            "occurred_at": _timestamps,
            "application_id": st.text(min_size=1, max_size=64),
            "applicant": st.fixed_dictionaries(
                {
                    "age": st.integers(18, 100),
                    "marital_status": st.sampled_from([m.value for m in MaritalStatus]),
                    "home_ownership": st.sampled_from([h.value for h in HomeOwnership]),
                    "job_type": st.sampled_from([j.value for j in JobType]),
                    "job_seniority_years": _non_negative | st.integers(0, 80),
                    "has_prior_records": st.booleans(),
                }
            ),
            "finances": st.fixed_dictionaries(
                {
                    "monthly_income": st.none() | _non_negative,
                    "monthly_expenses": _non_negative | st.integers(0, 10**6),
                    "assets": st.none() | _non_negative,
                    "debt": st.none() | _non_negative,
                }
            ),
            "loan": st.fixed_dictionaries(
                {
                    "amount": _positive | st.integers(1, 10**7),
                    "term_months": st.integers(1, 120),
                    "purchase_price": _positive,
                }
            ),
        }
    )
