"""`GET /v1/model`: the card the loader verified, and the policy that decides."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from consumer.api.api_keys import new_key
from consumer.api.app import create_app
from consumer.runtime.assets import ScoringAssets
from tests.api.credentials import authenticated_state, write_key_file


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


def test_without_model_read_the_model_route_hides_the_policy_and_thresholds(
    assets: ScoringAssets, tmp_path: Path
) -> None:
    key, stored = new_key("crm", frozenset({"score"}))
    state = authenticated_state(write_key_file(tmp_path / "keys", stored))
    state.assets.set(assets)
    client = TestClient(create_app(state), headers={"Authorization": f"Bearer {key}"})

    response = client.get("/v1/model")

    assert response.status_code == 200
    body = response.json()
    assert body["policy"] is None
    assert body["card"]["decision_thresholds"] == {}
    assert assets.model.card.decision_thresholds  # there was something to hide
    assert body["policy_version"] == assets.policy.policy_version
    assert body["card"]["metrics"] == assets.model.card.metrics


def test_the_model_route_refuses_a_caller_without_a_credential(client: TestClient) -> None:
    response = client.get("/v1/model", headers={"Authorization": ""})

    assert response.status_code == 401
    assert "policy" not in response.json()
