"""The model card: what a model is, what it learnt from, how good it is, and how to check it.

Written by training beside the artifact and read back by `scoring.artifact.load_model`, which
trusts the artifact only when the card's hash and library versions match.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Card(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class TrainingData(_Card):
    source: str
    sha256: str
    rows_total: int
    rows_used: int
    rows_excluded: int
    excluded_rownames: list[int]
    bad_rate: float
    train_rows: int
    test_rows: int


class ArtifactRef(_Card):
    file: str
    sha256: str
    format: str


class ModelCard(_Card):
    model_version: str
    created_at: str
    seed: int
    candidate: str
    estimator: str
    training_data: TrainingData
    artifact: ArtifactRef
    feature_names: list[str]
    # Which matrix columns the model reads, which only the policy reads, and which contract
    # fields only monitoring reads, with why (issue #24).
    feature_policy: dict[str, Any]
    reference_applicant: dict[str, float]
    training_range: dict[str, dict[str, float]]
    library_versions: dict[str, str]
    decision_thresholds: dict[str, Any]
    metrics: dict[str, float]
    cv_comparison: dict[str, dict[str, Any]]
    calibration_comparison: dict[str, dict[str, float]]
    seed_study: dict[str, Any]
    # Held-out approval and default rates and adverse-impact ratios per group, before and after
    # the protected fields left the model; `lowest_impact_ratio` is what promotion gates on.
    fairness: dict[str, Any]
    validation: dict[str, Any]
    baseline: dict[str, Any]
