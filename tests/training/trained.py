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


def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model directory, trained on first use (the factory is one per session)."""
    key = id(tmp_path_factory)
    if key not in _trained:
        out = tmp_path_factory.mktemp("model")
        train_model(out, seed=SEED)
        _trained[key] = out
    return _trained[key]
