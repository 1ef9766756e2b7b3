"""Calibration on realised outcomes: whether a PD of 10 % means one loan in ten defaulted.

Brier score, expected calibration error and the calibration curve over equal-width PD bins, with
the bin count of `training.evaluation` so the model card's test_ece and production numbers
compare. The outcomes joiner exports them and `loan-scorer report` prints them, so both compute
them one way: here. Pure functions; labels and scores follow `impact.labelled_scores`.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from impact.labelled_scores import FloatVector, labelled_scores

ECE_BINS: Final = 10  # as in training.evaluation, so the card's test_ece and production compare


def brier_score(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Mean squared gap between PD and outcome (lower is better). NaN on no rows."""
    y, s = labelled_scores(labels, scores)
    return float(np.mean((s - y) ** 2)) if y.size else math.nan


def _bin_index(scores: FloatVector, bins: int) -> npt.NDArray[np.intp]:
    return np.minimum((scores * bins).astype(np.intp), bins - 1)


def expected_calibration_error(
    labels: npt.ArrayLike, scores: npt.ArrayLike, bins: int = ECE_BINS
) -> float:
    """ECE over equal-width PD bins: the share-weighted gap between mean PD and default rate
    (the definition of the model card's test_ece). NaN on no rows."""
    y, s = labelled_scores(labels, scores)
    if not y.size:
        return math.nan
    index = _bin_index(s, bins)
    mean_pd = np.bincount(index, weights=s, minlength=bins)
    defaults = np.bincount(index, weights=y, minlength=bins)
    return float(np.sum(np.abs(mean_pd - defaults)) / y.size)


def calibration_curve(
    labels: npt.ArrayLike, scores: npt.ArrayLike, bins: int = ECE_BINS
) -> pd.DataFrame:
    """Per non-empty equal-width PD bin: its bounds, count, mean PD and realised default rate."""
    y, s = labelled_scores(labels, scores)
    index = _bin_index(s, bins)
    count = np.bincount(index, minlength=bins)
    mean_pd = np.bincount(index, weights=s, minlength=bins)
    defaults = np.bincount(index, weights=y, minlength=bins)
    used = count > 0
    return pd.DataFrame(
        {
            "bin_low": np.arange(bins)[used] / bins,
            "bin_high": (np.arange(bins)[used] + 1) / bins,
            "count": count[used],
            "mean_pd": mean_pd[used] / count[used],
            "default_rate": defaults[used] / count[used],
        }
    )
