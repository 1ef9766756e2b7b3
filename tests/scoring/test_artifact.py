"""Loading refuses a model directory it cannot trust."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scoring.artifact import ARTIFACT_FILE, CARD_FILE, load_model
from scoring.exceptions import ModelIntegrityError


@pytest.fixture
def model_copy(model_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    return copy


def _edit_card(model_dir: Path, section: str, key: str, value: object) -> None:
    path = model_dir / CARD_FILE
    card = json.loads(path.read_text())
    card[section][key] = value
    path.write_text(json.dumps(card))


def test_an_intact_model_loads(model_copy: Path) -> None:
    loaded = load_model(model_copy)
    assert loaded.model_version.startswith("credit-")
    assert loaded.reference.shape == (len(loaded.feature_names),)


def test_a_tampered_artifact_is_refused(model_copy: Path) -> None:
    artifact = model_copy / ARTIFACT_FILE
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        load_model(model_copy)


def test_a_wrong_library_version_is_refused(model_copy: Path) -> None:
    _edit_card(model_copy, "library_versions", "scikit-learn", "0.24.2")
    with pytest.raises(ModelIntegrityError, match=r"scikit-learn card=0\.24\.2"):
        load_model(model_copy)


@pytest.mark.parametrize("missing", [ARTIFACT_FILE, CARD_FILE])
def test_missing_files_are_refused(model_copy: Path, missing: str) -> None:
    (model_copy / missing).unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_model(model_copy)


def test_a_different_feature_list_is_refused(model_copy: Path) -> None:
    path = model_copy / CARD_FILE
    card = json.loads(path.read_text())
    card["feature_names"] = card["feature_names"][::-1]
    path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="other features"):
        load_model(model_copy)


def test_a_corrupt_card_is_refused(model_copy: Path) -> None:
    (model_copy / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="not valid"):
        load_model(model_copy)


def test_a_folder_without_a_model_says_how_to_make_one(tmp_path: Path) -> None:
    """The first start on a fresh clone fails here; the message must name the fix."""
    empty = tmp_path / "no-model"
    empty.mkdir()
    with pytest.raises(ModelIntegrityError) as refused:
        load_model(empty)
    message = str(refused.value)
    assert "make model" in message
    assert "loan-scorer train --out" in message
    assert "LOAN_SCORER_MODEL_DIR" in message
    assert str(empty) in message
