"""Logging a trained model directory as an MLflow run and a registered model version.

The run holds what lineage needs: parameters (seed, candidate, estimator, policy), every numeric
metric of the card, the training data's SHA-256 and the code commit as tags, and the whole model
directory (artifact, card, report plots) as artifacts; the registered version points at them and
carries the card's model_version. Training is deterministic, so registering the same model twice
returns the existing version instead of a duplicate.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from registry.store import (
    EXPERIMENT,
    LOWEST_IMPACT_RATIO_TAG,
    MODEL_NAME,
    MODEL_VERSION_TAG,
    artifact_location,
    client,
)
from scoring.artifact import read_card, verify

logger = logging.getLogger(__name__)


def code_commit() -> str:
    """The commit the model was trained from: GIT_COMMIT (set by image builds and CI), else
    `git rev-parse HEAD`, else "unknown" (never a guess)."""
    configured = os.environ.get("GIT_COMMIT")
    if configured:
        return configured
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607  # git from PATH, no shell, fixed args
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def find_version(model_version: str) -> str | None:
    """The registered version number carrying this card's model_version, if any."""
    registry = client()
    versions = registry.search_model_versions(f"name = '{MODEL_NAME}'")
    for version in versions:
        if version.tags.get(MODEL_VERSION_TAG) == model_version:
            return str(version.version)
    return None


def register_model_dir(model_dir: Path, alias: str | None = None) -> str:
    """Log `model_dir` (verified against its card first) and register it; return the version."""
    card = read_card(model_dir)
    verify(model_dir, card)  # never register an artifact that does not match its card
    registry = client()
    existing = find_version(card.model_version)
    if existing is not None:
        logger.info("model %s is already version %s", card.model_version, existing)
        version = existing
    else:
        version = _log_and_register(model_dir)
    if alias:
        registry.set_registered_model_alias(MODEL_NAME, alias, version)
    return version


def _log_and_register(model_dir: Path) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    card = read_card(model_dir)
    registry = client()
    experiment = registry.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else registry.create_experiment(EXPERIMENT, artifact_location=artifact_location())
    )
    params = {
        "seed": card.seed,
        "candidate": card.candidate,
        "estimator": card.estimator[:500],
        "features": len(card.feature_names),
        "policy_version": card.decision_thresholds.get("policy_version", "unknown"),
        **{f"library.{name}": version for name, version in card.library_versions.items()},
    }
    tags = {
        MODEL_VERSION_TAG: card.model_version,
        "loan_scorer.data_sha256": card.training_data.sha256,
        "loan_scorer.artifact_sha256": card.artifact.sha256,
        "mlflow.source.git.commit": code_commit(),
        LOWEST_IMPACT_RATIO_TAG: repr(float(card.fairness["lowest_impact_ratio"])),
    }
    run = registry.create_run(experiment_id, run_name=card.model_version, tags=tags)
    run_id = run.info.run_id
    try:
        registry.log_batch(
            run_id,
            metrics=[Metric(name, float(value), 0, 0) for name, value in card.metrics.items()],
            params=[Param(name, str(value)) for name, value in params.items()],
            tags=[RunTag(name, value) for name, value in tags.items()],
        )
        registry.log_artifacts(run_id, str(model_dir), artifact_path="model")
    except Exception:
        registry.set_terminated(run_id, "FAILED")
        raise
    registry.set_terminated(run_id, "FINISHED")
    try:
        registry.create_registered_model(
            MODEL_NAME, description="loan-scorer credit PD model (see its model card)"
        )
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    created = registry.create_model_version(
        MODEL_NAME,
        source=f"{run.info.artifact_uri}/model",
        run_id=run_id,
        tags=tags,
        description=f"{card.model_version}, data {card.training_data.sha256[:12]}",
    )
    logger.info("registered %s as %s version %s", card.model_version, MODEL_NAME, created.version)
    return str(created.version)
