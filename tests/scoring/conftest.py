"""Hand-made v1 applications and a trained model shared by the scoring tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.application_v1 import LoanApplicationSubmitted
from scoring.artifact import LoadedModel, load_model
from scoring.policy import Policy, load_policy
from tests.training.trained import trained_model_dir

ApplicationFactory = Callable[..., LoanApplicationSubmitted]


def _application(**changes: Any) -> LoanApplicationSubmitted:
    """A plain, low-risk applicant; keyword `section__field=value` overrides one field."""
    payload: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "loan_application.submitted",
        "schema_version": "1.0",
        "occurred_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "application_id": "app-1",
        "applicant": {
            "age": 40,
            "marital_status": "married",
            "home_ownership": "owner",
            "job_type": "fixed",
            "job_seniority_years": 10.0,
            "has_prior_records": False,
        },
        "finances": {
            "monthly_income": 200.0,
            "monthly_expenses": 50.0,
            "assets": 5000.0,
            "debt": 100.0,
        },
        "loan": {"amount": 1000.0, "term_months": 50, "purchase_price": 1250.0},
    }
    for key, value in changes.items():
        if "__" in key:
            section, field = key.split("__", 1)
            payload[section][field] = value
        else:
            payload[key] = value
    payload["event_id"] = uuid.UUID(payload["event_id"])
    return LoanApplicationSubmitted.model_validate(payload, strict=False)


@pytest.fixture
def make_application() -> ApplicationFactory:
    return _application


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def model(model_dir: Path) -> LoadedModel:
    return load_model(model_dir)


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()
