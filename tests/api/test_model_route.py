"""`GET /v1/model`: the card the loader verified, and the policy that decides."""

from __future__ import annotations

from fastapi.testclient import TestClient

from consumer.service import ScoringAssets


def test_the_model_route_gives_the_card_and_the_policy(
    client: TestClient, assets: ScoringAssets
) -> None:
    response = client.get("/v1/model")

    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == assets.model.model_version
    assert body["policy_version"] == assets.policy.policy_version
    assert body["card"] == assets.model.card.model_dump(mode="json")
    assert body["card"]["training_data"]["sha256"] == assets.model.card.training_data.sha256
    assert body["card"]["metrics"]["test_roc_auc"] > 0.5
    assert body["policy"]["cutoffs"] == assets.policy.cutoffs.model_dump(mode="json")


def test_before_the_model_loads_the_model_route_is_a_503(loading_client: TestClient) -> None:
    response = loading_client.get("/v1/model")

    assert response.status_code == 503
    assert response.json()["error"] == "model_not_loaded"
