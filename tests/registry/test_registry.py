"""The MLflow registry on an embedded SQLite store of its own: registration with lineage, loading
by alias through the same verification as a directory, promotion and rollback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from consumer.cli import app
from consumer.config.settings import Settings
from registry.lifecycle import (
    FairnessGateError,
    LifecycleError,
    aliases,
    promote,
    rollback,
    set_challenger,
)
from registry.register import register_model_dir
from registry.resolve import fetch_model_dir, load_model_from
from registry.store import (
    FAIRNESS_ACCEPTED_TAG,
    FAIRNESS_GATE_TAG,
    LOWEST_IMPACT_RATIO_TAG,
    MODEL_NAME,
    MODEL_VERSION_TAG,
    client,
)
from scoring.artifact import load_model
from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOAN_SCORER_MLFLOW_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield home


@pytest.fixture(scope="module")
def registered(registry_home: Path, model_dir: Path) -> str:
    return register_model_dir(model_dir, alias="champion")


def test_registration_carries_lineage(
    registered: str, model_dir: Path, registry_home: Path
) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    registry = client()
    version = registry.get_model_version(MODEL_NAME, registered)
    assert version.tags[MODEL_VERSION_TAG] == card["model_version"]
    assert version.run_id is not None
    run = registry.get_run(version.run_id)
    assert run.data.params["seed"] == "42"
    assert run.data.params["candidate"] == card["candidate"]
    assert run.data.metrics["test_roc_auc"] == pytest.approx(card["metrics"]["test_roc_auc"])
    assert run.data.tags["loan_scorer.data_sha256"] == card["training_data"]["sha256"]
    assert run.data.tags["mlflow.source.git.commit"] != ""
    lowest = card["fairness"]["lowest_impact_ratio"]
    assert float(version.tags[LOWEST_IMPACT_RATIO_TAG]) == pytest.approx(lowest)
    artifacts = {item.path for item in registry.list_artifacts(run.info.run_id, "model")}
    assert {"model/model_card.json", "model/model.skops"} <= artifacts
    # The store is the embedded one, under the directory we gave it.
    assert (registry_home / "mlflow.db").is_file()
    assert (registry_home / "artifacts").is_dir()


def test_registering_the_same_model_again_returns_its_version(
    registered: str, model_dir: Path
) -> None:
    assert register_model_dir(model_dir) == registered
    versions = client().search_model_versions(f"name = '{MODEL_NAME}'")
    assert len(versions) == 1


def test_loading_by_alias_serves_the_same_model(registered: str, model_dir: Path) -> None:
    from_registry = load_model_from(f"models:/{MODEL_NAME}@champion")
    from_directory = load_model(model_dir)
    assert from_registry.model_version == from_directory.model_version
    rows = np.random.default_rng(1).uniform(0, 2, (5, len(FEATURE_NAMES)))
    np.testing.assert_array_equal(
        from_registry.scorecard.log_odds(from_registry.scorecard.group_terms(rows)),
        from_directory.scorecard.log_odds(from_directory.scorecard.group_terms(rows)),
    )


def test_a_tampered_registry_artifact_is_refused(registered: str, tmp_path: Path) -> None:
    fetched = fetch_model_dir(f"models:/{MODEL_NAME}/{registered}", cache=tmp_path)
    artifact = fetched / "model.skops"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError):
        load_model(fetched)


def test_promote_and_rollback(registered: str) -> None:
    registry = client()
    first = registry.get_model_version(MODEL_NAME, registered)
    assert first.source is not None
    # A second version of the same artifacts (registering a run's model again is how MLflow
    # makes a new version); aliases are all promotion and rollback touch.
    same_fairness = first.tags[LOWEST_IMPACT_RATIO_TAG]
    second = str(
        registry.create_model_version(
            MODEL_NAME,
            first.source,
            run_id=first.run_id,
            tags={MODEL_VERSION_TAG: "second", LOWEST_IMPACT_RATIO_TAG: same_fairness},
        ).version
    )
    with pytest.raises(LifecycleError, match="nothing to roll back to"):
        rollback()
    set_challenger(second)
    move = promote(second)
    assert (move.champion, move.previous, move.model_version) == (second, registered, "second")
    assert set(aliases()) == {"champion", "previous-champion"}  # the challenger was promoted
    assert aliases()["champion"][0] == second

    back = rollback()
    assert (back.champion, back.previous) == (registered, second)
    assert aliases()["champion"][0] == registered
    assert rollback().champion == second  # a second rollback undoes the first
    with pytest.raises(LifecycleError, match="no version 99"):
        promote("99")

    runner = CliRunner()
    result = runner.invoke(app, ["model", "promote", "--version", registered])
    assert result.exit_code == 0, result.output
    assert f"champion -> version {registered}" in result.output
    result = runner.invoke(app, ["model", "rollback"])
    assert result.exit_code == 0, result.output
    assert f"champion -> version {second}" in result.output
    listing = runner.invoke(app, ["model", "list"]).output
    assert f"champion\tversion {second}\tsecond" in listing


def test_settings_take_only_registry_uris() -> None:
    assert Settings(model_uri="models:/loan-scorer@champion").model_uri is not None
    assert Settings(model_uri="models:/loan-scorer/3").model_uri is not None
    for wrong in ("loan-scorer@champion", "models:/a@b@c", "s3://bucket/model"):
        with pytest.raises(ValidationError):
            Settings(model_uri=wrong)


def test_copying_a_model_dir_is_not_a_new_version(
    registered: str, model_dir: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(model_dir, tmp_path / "copy")
    assert register_model_dir(copy) == registered


def test_train_command_registers_what_it_trained(
    registered: str, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI wiring: train, then register the directory it wrote, with the alias asked for.
    Training itself is replaced by a copy of the session's real model (it is deterministic, and
    tests/training covers it)."""
    import training.train
    from scoring.artifact import read_card
    from scoring.card import ModelCard

    def copy_model(out_dir: Path, seed: int, step: Callable[[str], None]) -> ModelCard:
        step("copying a trained model")
        shutil.copytree(model_dir, out_dir)
        return read_card(out_dir)

    monkeypatch.setattr(training.train, "train_model", copy_model)
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--out", str(out), "--alias", "challenger"])
    assert result.exit_code == 0, result.output
    card = read_card(out)
    assert f"registered as {card.model_version} version {registered}" in result.output
    assert aliases()["challenger"] == (registered, card.model_version)


def test_the_service_loads_the_model_the_uri_names(registered: str, model_dir: Path) -> None:
    from consumer.runtime.assets import load_assets

    client().set_registered_model_alias(MODEL_NAME, "champion", registered)
    assets = load_assets(Settings(model_uri=f"models:/{MODEL_NAME}@champion"))
    assert assets.model.model_version == load_model(model_dir).model_version
    with pytest.raises(Exception, match="no-such-alias"):
        load_assets(Settings(model_uri=f"models:/{MODEL_NAME}@no-such-alias"))


def _worse_challenger(model_dir: Path, tmp_path: Path, drop: float) -> Path:
    """The trained model with a card whose held-out lowest adverse-impact ratio is `drop`
    lower: a challenger that worsens fairness (a new model_version, so a new registry version)."""
    worse = tmp_path / f"worse-{drop}"
    shutil.copytree(model_dir, worse)
    card_path = worse / "model_card.json"
    card = json.loads(card_path.read_text())
    card["model_version"] += f"-worse-{drop}"
    card["fairness"]["lowest_impact_ratio"] -= drop
    card_path.write_text(json.dumps(card))
    return worse


def test_promote_refuses_a_challenger_that_worsens_fairness_unless_accepted(
    registered: str, model_dir: Path, tmp_path: Path
) -> None:
    promote(registered)  # the trained model is the champion, whatever earlier tests moved
    champion_ratio = float(
        client().get_model_version(MODEL_NAME, registered).tags[LOWEST_IMPACT_RATIO_TAG]
    )
    worse = register_model_dir(_worse_challenger(model_dir, tmp_path, 0.06), alias="challenger")
    runner = CliRunner()
    refused = runner.invoke(app, ["model", "promote", "--version", worse])
    assert refused.exit_code == 1
    assert "fairness gate fails" in refused.output
    assert f"{champion_ratio - 0.06:.3f}" in refused.output
    assert aliases()["champion"][0] == registered
    with pytest.raises(FairnessGateError):
        promote(worse, accept_fairness_regression="   ")  # a blank reason is no reason

    accepted = runner.invoke(
        app,
        [
            "model",
            "promote",
            "--version",
            worse,
            "--accept-fairness-regression",
            "committee 2026-12: <25 band reviewed against its default rate",
        ],
    )
    assert accepted.exit_code == 0, accepted.output
    assert aliases()["champion"][0] == worse
    tags = client().get_model_version(MODEL_NAME, worse).tags
    assert (
        tags[FAIRNESS_ACCEPTED_TAG]
        == "committee 2026-12: <25 band reviewed against its default rate"
    )
    assert tags[FAIRNESS_GATE_TAG].startswith("fails:")
    rollback()


def test_promote_lets_a_small_fairness_change_through(
    registered: str, model_dir: Path, tmp_path: Path
) -> None:
    promote(registered)
    slightly = register_model_dir(_worse_challenger(model_dir, tmp_path, 0.04))
    move = promote(slightly)
    assert move.champion == slightly
    assert move.fairness.startswith("passes:")
    tags = client().get_model_version(MODEL_NAME, slightly).tags
    assert tags[FAIRNESS_GATE_TAG].startswith("passes:")
    assert FAIRNESS_ACCEPTED_TAG not in tags
    rollback()
