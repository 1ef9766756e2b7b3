"""What metrics see of a published score, built one way for the champion, canaries and shadows."""

from __future__ import annotations

from datetime import UTC, datetime

from consumer.pipeline.scored_event import scored_fact
from consumer.records import ScoredFact
from schemas.examples import example_application_event
from schemas.score_v1 import ModelRole
from scoring.scorer import ScoreResult

RESULT = ScoreResult(
    application_id="app-7",
    probability_of_default=0.27,
    risk_grade="D",
    decision="review",
    reasons=(),
    model_version="model-3",
    policy_version="policy-9",
    out_of_range=("finances.assets",),
)


def test_a_fact_carries_the_decision_the_versions_and_the_event_time_in_epoch_seconds() -> None:
    application = example_application_event(occurred_at="2026-01-02T03:04:05.5+01:00")
    fact = scored_fact(application, RESULT)
    assert fact == ScoredFact(
        decision="review",
        model_version="model-3",
        probability_of_default=0.27,
        occurred_at_epoch_s=datetime(2026, 1, 2, 2, 4, 5, 500000, tzinfo=UTC).timestamp(),
        out_of_range=("finances.assets",),
        model_role=None,
        event_id="7f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b",  # to take it back if never published
    )


def test_a_shadow_fact_says_so() -> None:
    fact = scored_fact(example_application_event(), RESULT, ModelRole.SHADOW)
    assert fact.model_role == "shadow"
