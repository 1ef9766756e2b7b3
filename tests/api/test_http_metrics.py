"""Scoring requests are counted by route template, so the label stays bounded."""

from __future__ import annotations

from fastapi.testclient import TestClient

from consumer.api.state import ApiState
from schemas.examples import example_application


def count(state: ApiState, route: str, status: str) -> float:
    value = state.metrics.registry.get_sample_value(
        "loan_scorer_http_requests_total", {"route": route, "status": status}
    )
    return value or 0.0


def test_score_requests_are_counted_by_route_and_status(
    client: TestClient, state: ApiState
) -> None:
    client.post("/v1/score", json=example_application())
    client.post("/v1/score", json=[example_application(), example_application()])
    client.post("/v1/score", json=example_application(applicant={"age": 9}))
    client.post("/v1/score?tracking=abc", json=example_application())

    assert count(state, "/v1/score", "200") == 3
    assert count(state, "/v1/score", "422") == 1
    duration = state.metrics.registry.get_sample_value(
        "loan_scorer_http_request_duration_seconds_count", {"route": "/v1/score"}
    )
    assert duration == 4


def test_an_unknown_path_is_counted_as_unmatched_not_by_its_text(
    client: TestClient, state: ApiState
) -> None:
    client.get("/v1/score/app-000001")
    client.get("/docs")

    assert count(state, "unmatched", "404") == 1
    assert count(state, "/docs", "200") == 1
    exposition = client.get("/metrics").text
    assert "app-000001" not in exposition
