"""`POST /v1/score` gives what the stream would publish for the same application."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

import scoring.scorer
from consumer.pipeline.scored_event import loan_scored_event
from consumer.runtime.assets import ScoringAssets
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.examples import example_application
from schemas.score_v1 import LoanScored
from scoring.scorer import ScoreError, ScoreOutcome, ScoreResult, score_batch

# What the stream fills in per event and the API cannot match: a new id and the clock.
PER_EVENT = {"event_id", "scored_at"}

APPLICATIONS = [
    example_application(),
    example_application(application_id="app-risky", applicant={"has_prior_records": True}),
    example_application(application_id="app-ko", loan={"amount": 5000, "purchase_price": 1000}),
    example_application(application_id="app-no-income", finances={"monthly_income": None}),
]


def stream_events(raw: list[dict[str, Any]], assets: ScoringAssets) -> list[dict[str, Any]]:
    apps = [LoanApplicationSubmitted.model_validate_json(orjson.dumps(app)) for app in raw]
    now = datetime.now(UTC)
    events = []
    for app, outcome in zip(apps, score_batch(apps, assets.model, assets.policy), strict=True):
        assert isinstance(outcome, ScoreResult)
        events.append(loan_scored_event(app, outcome, scored_at=now).model_dump(mode="json"))
    return [_without_per_event(event) for event in events]


def _without_per_event(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in PER_EVENT}


def test_one_application_gets_the_event_the_stream_would_publish(
    client: TestClient, assets: ScoringAssets
) -> None:
    response = client.post("/v1/score", json=APPLICATIONS[0])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    event = LoanScored.model_validate_json(response.content)
    assert (
        _without_per_event(event.model_dump(mode="json"))
        == stream_events(APPLICATIONS[:1], assets)[0]
    )


def test_a_list_gets_one_event_per_application_in_order(
    client: TestClient, assets: ScoringAssets
) -> None:
    response = client.post("/v1/score", json=APPLICATIONS)

    assert response.status_code == 200
    TypeAdapter(list[LoanScored]).validate_json(response.content)  # the contract, strictly
    body = response.json()
    assert [_without_per_event(event) for event in body] == stream_events(APPLICATIONS, assets)
    knock_out = next(event for event in body if event["application_id"] == "app-ko")
    # The policy's knock-outs apply over HTTP as on the stream.
    assert "KO01_LOAN_ABOVE_PRICE" in [reason["code"] for reason in knock_out["reasons"]]
    assert all(event["reasons"] for event in body if event["decision"] != "approve")


def test_an_application_the_model_cannot_score_fails_alone_in_its_slot(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def second_fails(apps: list[LoanApplicationSubmitted], *args: Any) -> list[ScoreOutcome]:
        scored = score_batch(apps, *args)
        scored[1] = ScoreError(apps[1].application_id, "InvalidProbability", "PD nan")
        return scored

    monkeypatch.setattr(scoring.scorer, "score_batch", second_fails)
    response = client.post("/v1/score", json=APPLICATIONS[:3])

    assert response.status_code == 200
    first, second, third = response.json()
    assert first["application_id"] == "app-000001"
    assert first["event_type"] == "loan_application.scored"
    assert second == {
        "application_id": "app-risky",
        "error": "scoring_error",
        "message": "The model could not score this application (InvalidProbability)",
    }
    assert third["application_id"] == "app-ko"


def test_a_single_application_the_model_cannot_score_is_a_422(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nothing_scores(apps: list[LoanApplicationSubmitted], *_: Any) -> list[ScoreOutcome]:
        return [ScoreError(app.application_id, "InvalidProbability", "PD nan") for app in apps]

    monkeypatch.setattr(scoring.scorer, "score_batch", nothing_scores)
    response = client.post("/v1/score", json=APPLICATIONS[0])

    assert response.status_code == 422
    assert response.json()["error"] == "scoring_error"


def test_a_batch_wide_scoring_crash_is_isolated_to_the_culprit(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crashes_on_risky(apps: list[LoanApplicationSubmitted], *args: Any) -> list[ScoreOutcome]:
        if any(app.application_id == "app-risky" for app in apps):
            raise RuntimeError("boom")
        return score_batch(apps, *args)

    monkeypatch.setattr(scoring.scorer, "score_batch", crashes_on_risky)
    response = client.post("/v1/score", json=APPLICATIONS[:3])

    assert response.status_code == 200
    assert [item.get("error") for item in response.json()] == [None, "scoring_error", None]


def test_scoring_runs_in_the_api_scoring_threads_not_on_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []

    def recording(apps: list[LoanApplicationSubmitted], *args: Any) -> list[ScoreOutcome]:
        threads.append(threading.current_thread().name)
        return score_batch(apps, *args)

    monkeypatch.setattr(scoring.scorer, "score_batch", recording)
    assert client.post("/v1/score", json=APPLICATIONS[0]).status_code == 200

    assert len(threads) == 1
    assert threads[0].startswith("http-score")
