"""One training run per test session, shared by tests/training and tests/scoring.

Both conftests expose a `model_dir` fixture; they call this cached helper so the model is trained
once (about a minute on two cores), not once per directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from training.train import train_model

SEED = 42


_trained: dict[int, Path] = {}
_steps: dict[int, list[str]] = {}


def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model directory, trained on first use (the factory is one per session)."""
    key = id(tmp_path_factory)
    if key not in _trained:
        out = tmp_path_factory.mktemp("model")
        steps: list[str] = []
        train_model(out, seed=SEED, step=steps.append)
        _trained[key] = out
        _steps[key] = steps
    return _trained[key]


def training_steps(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """What that run told its `step` callback, in order (what `loan-scorer train` shows)."""
    trained_model_dir(tmp_path_factory)
    return _steps[id(tmp_path_factory)]
