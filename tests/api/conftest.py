"""An app over a real loaded model, and one whose model has not loaded yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumer.api.app import create_app
from consumer.api.state import ApiState
from consumer.health import Readiness
from consumer.service import ScoringAssets, load_assets, new_metrics
from consumer.settings import Settings


@pytest.fixture(scope="session")
def assets(model_dir: Path) -> ScoringAssets:
    return load_assets(Settings.model_validate({"model_dir": model_dir}))


@pytest.fixture
def state(assets: ScoringAssets) -> ApiState:
    """A fresh metrics registry per test, so counts start at zero."""
    api_state = ApiState(readiness=Readiness(), metrics=new_metrics())
    api_state.assets.set(assets)
    return api_state


@pytest.fixture
def client(state: ApiState) -> Iterator[TestClient]:
    # Server exceptions become responses, so a test sees the 500 a real client would.
    with TestClient(create_app(state), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def loading_client() -> Iterator[TestClient]:
    """The API as it is between start-up and the model having loaded."""
    api_state = ApiState(readiness=Readiness(), metrics=new_metrics())
    with TestClient(create_app(api_state), raise_server_exceptions=False) as test_client:
        yield test_client
