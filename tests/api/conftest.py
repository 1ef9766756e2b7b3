"""An app over a real loaded model, and one whose model has not loaded yet, both called with a
valid API key holding every scope (tests/api/test_auth_http.py refuses the other credentials)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumer.api.app import create_app
from consumer.api.state import ApiState
from consumer.config.settings import Settings
from consumer.runtime.assets import ScoringAssets, load_assets
from tests.api.credentials import AUTH, FULL_STORED, authenticated_state, write_key_file


@pytest.fixture(scope="session")
def assets(model_dir: Path) -> ScoringAssets:
    return load_assets(Settings.model_validate({"model_dir": model_dir}))


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_key_file(tmp_path_factory.mktemp("keys") / "api-keys", FULL_STORED)


@pytest.fixture
def state(assets: ScoringAssets, key_file: Path) -> ApiState:
    """A fresh metrics registry per test, so counts start at zero."""
    api_state = authenticated_state(key_file)
    api_state.assets.set(assets)
    return api_state


@pytest.fixture
def client(state: ApiState) -> Iterator[TestClient]:
    # Server exceptions become responses, so a test sees the 500 a real client would.
    with TestClient(create_app(state), raise_server_exceptions=False, headers=AUTH) as test_client:
        yield test_client


@pytest.fixture
def loading_client(key_file: Path) -> Iterator[TestClient]:
    """The API as it is between start-up and the model having loaded."""
    api_state = authenticated_state(key_file)
    with TestClient(
        create_app(api_state), raise_server_exceptions=False, headers=AUTH
    ) as test_client:
        yield test_client
