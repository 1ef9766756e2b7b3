"""Choosing the model and its calibration over several train/test splits, never one.

On 3,557 training rows the test split of one seed is noisy: the same recipe scored test ECE 0.026
at seed 42 and 0.045 at seed 123. So every candidate and calibration is fitted on the splits of
the ten `STUDY_SEEDS`; the choice uses cross-validation and out-of-fold validation only (the test
splits are reported, never used to choose), and the card shows the mean and the worst over the
seeds, and how the chosen design stands against its targets (`TARGETS`). Every fitted model of
the study is compiled and verified against scikit-learn as the shipped one is, so a design that
one seed cannot serve fails training instead of one day failing a retrain.

Validation PDs for the sigmoid are cross-fitted: the out-of-fold log-odds of each fold are
calibrated by a sigmoid fitted on the other folds' out-of-fold log-odds. That is what
`CalibratedClassifierCV(ensemble=False)` does at fit time, without nesting a second
cross-validation (30 fits per seed instead of 5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

from scoring.additive import PD_FLOOR, compile_scorecard, probability_of_default, verify_against
from scoring.features import FEATURE_NAMES, MODEL_FEATURES
from training.candidates import build_candidates
from training.evaluation import ece_noise_p95, evaluate

FloatVector = npt.NDArray[np.float64]
IntVector = npt.NDArray[np.int64]

STUDY_SEEDS: Final = tuple(range(10))
# What the chosen design must reach over the study's seeds (issue #24); the card says whether it
# does, and by how much it misses when it does not.
TARGETS: Final = {"cv_roc_auc_mean": 0.85, "cv_roc_auc_min": 0.845}
TEST_SIZE: Final = 0.2
FOLDS: Final = 5
# "none" is the logistic model's own probability; "sigmoid" a Platt line on its log-odds. Both
# keep the model additive. Isotonic calibration was measured and refused: it cuts the PD into a
# few dozen steps (37 distinct PDs on 890 test rows), useless for ranking, and gives PD 0.
Calibration = Literal["none", "sigmoid"]
CALIBRATIONS: Final[tuple[Calibration, ...]] = ("none", "sigmoid")


def folds(seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)


def recipe(
    candidate: str,
    calibration: Calibration,
    seed: int,
    names: tuple[str, ...] = FEATURE_NAMES,
    model_features: tuple[str, ...] = MODEL_FEATURES,
) -> BaseEstimator:
    """The estimator to fit: the candidate alone, or one calibrated copy of it (never five);
    on the served matrix unless `names` and `model_features` say otherwise."""
    base = build_candidates(names, model_features)[candidate]
    if calibration == "none":
        return base
    return CalibratedClassifierCV(base, method="sigmoid", cv=folds(seed), ensemble=False)


@dataclass(frozen=True, slots=True)
class Split:
    X_train: npt.NDArray[np.float64]
    X_test: npt.NDArray[np.float64]
    y_train: IntVector
    y_test: IntVector


def split(features: npt.NDArray[np.float64], labels: IntVector, seed: int) -> Split:
    X_train, X_test, y_train, y_test = train_test_split(
        features, labels, test_size=TEST_SIZE, stratify=labels, random_state=seed
    )
    return Split(X_train, X_test, y_train, y_test)


def _sigmoid(log_odds: FloatVector) -> FloatVector:
    return np.asarray(1.0 / (1.0 + np.exp(-log_odds)), dtype=np.float64)


def out_of_fold(
    candidate: str, data: Split, seed: int
) -> tuple[list[float], dict[Calibration, FloatVector]]:
    """Per-fold CV AUCs and the validation PDs of each calibration, on the training split."""
    base = build_candidates()[candidate]
    log_odds = cross_val_predict(
        base, data.X_train, data.y_train, cv=folds(seed), method="decision_function"
    )
    parts = list(folds(seed).split(data.X_train, data.y_train))
    aucs = [float(roc_auc_score(data.y_train[test], log_odds[test])) for _, test in parts]
    calibrated = np.empty_like(log_odds)
    for train, test in parts:
        platt = LogisticRegression(C=1e6).fit(log_odds[train, np.newaxis], data.y_train[train])
        calibrated[test] = platt.predict_proba(log_odds[test, np.newaxis])[:, 1]
    pds: dict[Calibration, FloatVector] = {"none": _sigmoid(log_odds), "sigmoid": calibrated}
    return aucs, {name: np.maximum(pd, PD_FLOOR) for name, pd in pds.items()}


def served_pd(estimator: BaseEstimator, features: npt.NDArray[np.float64]) -> FloatVector:
    """PDs exactly as the service computes them: through the compiled scorecard, floored."""
    scorecard = compile_scorecard(estimator)
    return probability_of_default(scorecard.log_odds(scorecard.group_terms(features)))


def _one_seed(
    features: npt.NDArray[np.float64], labels: IntVector, seed: int
) -> dict[str, dict[str, dict[str, float]]]:
    data = split(features, labels, seed)
    result: dict[str, dict[str, dict[str, float]]] = {}
    for candidate in build_candidates():
        aucs, validation = out_of_fold(candidate, data, seed)
        result[candidate] = {}
        for calibration in CALIBRATIONS:
            fitted = recipe(candidate, calibration, seed).fit(data.X_train, data.y_train)
            compile_error = verify_against(compile_scorecard(fitted), fitted, features)
            pd_test = served_pd(fitted, data.X_test)
            result[candidate][calibration] = {
                "cv_roc_auc": float(np.mean(aucs)),
                **evaluate(data.y_train, validation[calibration], "validation"),
                **evaluate(data.y_test, pd_test, "test"),
                "test_ece_noise_p95": ece_noise_p95(pd_test, seed),
                "test_distinct_pd": float(np.unique(pd_test).size),
                "compiled_max_log_odds_error": compile_error,
            }
    return result


# For each metric, which end is the worst one.
_WORST: Final[dict[str, Any]] = {
    "cv_roc_auc": min,
    "validation_roc_auc": min,
    "test_roc_auc": min,
    "validation_ks": min,
    "test_ks": min,
    "test_distinct_pd": min,
    "validation_brier": max,
    "test_brier": max,
    "validation_ece": max,
    "test_ece": max,
    "test_ece_noise_p95": max,
    "compiled_max_log_odds_error": max,
}


def study(
    features: npt.NDArray[np.float64],
    labels: IntVector,
    seeds: tuple[int, ...] = STUDY_SEEDS,
    on_seed: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Every candidate and calibration on every seed's split, summarised as mean and worst.
    `on_seed(seed)` is called as each seed starts (most of training's minute is spent here)."""
    per_seed: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        if on_seed is not None:
            on_seed(seed)
        per_seed[seed] = _one_seed(features, labels, seed)
    summary: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for candidate in build_candidates():
        summary[candidate] = {}
        for calibration in CALIBRATIONS:
            rows = [per_seed[seed][candidate][calibration] for seed in seeds]
            summary[candidate][calibration] = {
                metric: {
                    "mean": float(np.mean([row[metric] for row in rows])),
                    "worst": float(worst([row[metric] for row in rows])),
                }
                for metric, worst in _WORST.items()
            }
            summary[candidate][calibration]["seeds_within_ece_noise"] = {
                "count": float(sum(row["test_ece"] <= row["test_ece_noise_p95"] for row in rows)),
                "of": float(len(rows)),
            }
    return {"seeds": list(seeds), "summary": summary, "per_seed": per_seed}


def against_targets(result: dict[str, Any], candidate: str, calibration: str) -> dict[str, Any]:
    """The chosen design over the study's seeds against `TARGETS`: each value, its target,
    whether it is met and by how much it misses (0 when met); and per seed, the test ECE
    against its noise p95."""
    rows = [result["per_seed"][seed][candidate][calibration] for seed in result["seeds"]]
    aucs = [row["cv_roc_auc"] for row in rows]
    values = {"cv_roc_auc_mean": float(np.mean(aucs)), "cv_roc_auc_min": float(np.min(aucs))}
    out: dict[str, Any] = {
        name: {
            "value": values[name],
            "target": target,
            "met": values[name] >= target,
            "short_by": max(0.0, target - values[name]),
        }
        for name, target in TARGETS.items()
    }
    excess = [row["test_ece"] - row["test_ece_noise_p95"] for row in rows]
    out["test_ece_within_noise_p95"] = {
        "seeds": int(sum(e <= 0 for e in excess)),
        "of": len(rows),
        "met": all(e <= 0 for e in excess),
        "worst_excess": max(0.0, float(max(excess))),
    }
    out["per_seed"] = {
        str(seed): {
            "cv_roc_auc": row["cv_roc_auc"],
            "test_ece": row["test_ece"],
            "test_ece_noise_p95": row["test_ece_noise_p95"],
            "compiled_max_log_odds_error": row["compiled_max_log_odds_error"],
        }
        for seed, row in zip(result["seeds"], rows, strict=True)
    }
    return out


def choose(result: dict[str, Any]) -> tuple[str, Calibration]:
    """The candidate with the best mean CV AUC; for it, the calibration with the lowest mean
    out-of-fold ECE (calibration is judged on calibration: the Brier score mixes in the ranking,
    which a monotone calibration does not change). Test splits play no part in the choice."""
    summary = result["summary"]
    candidate = max(summary, key=lambda name: summary[name][CALIBRATIONS[0]]["cv_roc_auc"]["mean"])
    calibration = min(
        CALIBRATIONS, key=lambda cal: summary[candidate][cal]["validation_ece"]["mean"]
    )
    return candidate, calibration
