"""Discrimination and calibration metrics for a PD model, on held-out predictions only."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

FloatVector = npt.NDArray[np.float64]
IntVector = npt.NDArray[np.int64]

ECE_BINS: Final = 10


def ks_statistic(labels: IntVector, pd: FloatVector) -> float:
    """Kolmogorov-Smirnov: the widest gap between the PD distributions of bad and good loans."""
    fpr, tpr, _ = roc_curve(labels, pd)
    return float(np.max(tpr - fpr))


def expected_calibration_error(labels: IntVector, pd: FloatVector, bins: int = ECE_BINS) -> float:
    """ECE over equal-width PD bins: the share-weighted gap between mean PD and default rate."""
    index = np.minimum((pd * bins).astype(np.intp), bins - 1)
    mean_pd = np.bincount(index, weights=pd, minlength=bins)
    defaults = np.bincount(index, weights=labels.astype(np.float64), minlength=bins)
    return float(np.sum(np.abs(mean_pd - defaults)) / max(pd.size, 1))


def _perfect_model_eces(pd: FloatVector, seed: int, draws: int) -> FloatVector:
    rng = np.random.default_rng(seed)
    outcomes = (rng.random((draws, pd.size)) < pd).astype(np.int64)
    return np.array([expected_calibration_error(row, pd) for row in outcomes])


def ece_noise_floor(pd: FloatVector, seed: int, draws: int = 200) -> float:
    """Mean ECE a perfectly calibrated model would show on a sample this size.

    Outcomes are redrawn from the PDs themselves, so any gap left is sampling noise: an ECE near
    this floor cannot be told apart from perfect calibration.
    """
    return float(np.mean(_perfect_model_eces(pd, seed, draws)))


def ece_noise_p95(pd: FloatVector, seed: int, draws: int = 400) -> float:
    """The ECE that a perfectly calibrated model exceeds only 5 % of the time on these PDs: the
    calibration bar. Below it, the gap is indistinguishable from sampling noise (a one-sided
    test at 5 %); a fixed number such as 0.03 sits at the floor itself on ~900 test rows, so a
    perfect model would fail it half the time."""
    return float(np.quantile(_perfect_model_eces(pd, seed, draws), 0.95))


def evaluate(labels: IntVector, pd: FloatVector, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_roc_auc": float(roc_auc_score(labels, pd)),
        f"{prefix}_ks": ks_statistic(labels, pd),
        f"{prefix}_brier": float(brier_score_loss(labels, pd)),
        f"{prefix}_ece": expected_calibration_error(labels, pd),
    }
