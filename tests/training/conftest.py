"""Fixtures for the training tests: the model directory of the session's one training run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.trained import trained_model_dir


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)
