"""Discrimination on realised outcomes: how well the PDs rank defaulted loans above repaid ones.

ROC AUC and KS for one model, and DeLong's test for the AUCs of two models that scored the same
applications (champion against challenger). The outcomes joiner exports them and
`loan-scorer report` prints them, so both compute them one way: here. Pure functions; labels and
scores follow `impact.labelled_scores`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import rankdata

from impact.labelled_scores import FloatVector, has_both_outcomes, labelled_scores


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Realised ROC AUC: the chance a defaulted loan scored riskier than a repaid one, ties
    counted half (Mann-Whitney U over midranks). NaN without both outcomes."""
    y, s = labelled_scores(labels, scores)
    if not has_both_outcomes(y):
        return math.nan
    ranks = np.asarray(rankdata(s), dtype=np.float64)
    positives = y == 1.0
    m = float(positives.sum())
    n = float(y.size - m)
    return float((ranks[positives].sum() - m * (m + 1) / 2) / (m * n))


def ks_statistic(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov: the widest gap between the score distributions of defaulted and
    repaid loans (0 = no separation, 1 = perfect). NaN without both outcomes."""
    y, s = labelled_scores(labels, scores)
    if not has_both_outcomes(y):
        return math.nan
    thresholds = np.unique(s)
    bad = np.sort(s[y == 1.0])
    good = np.sort(s[y == 0.0])
    cdf_bad = np.searchsorted(bad, thresholds, side="right") / bad.size
    cdf_good = np.searchsorted(good, thresholds, side="right") / good.size
    return float(np.max(np.abs(cdf_bad - cdf_good)))


@dataclass(frozen=True, slots=True)
class AucDifference:
    """Champion AUC minus challenger AUC on the same applications, with DeLong's standard error
    and a two-sided confidence interval (positive: the champion ranks better)."""

    champion_auc: float
    challenger_auc: float
    difference: float
    standard_error: float
    low: float
    high: float
    p_value: float
    count: int
    defaults: int


def _structural_components(
    y: FloatVector, scores: FloatVector
) -> tuple[FloatVector, FloatVector, float]:
    # DeLong's placements via midranks (Sun and Xu, 2014): V10 per defaulted loan, V01 per
    # repaid one; their means are the AUC.
    positives = y == 1.0
    x, z = scores[positives], scores[~positives]
    m, n = x.size, z.size
    combined = np.asarray(rankdata(np.concatenate([x, z])), dtype=np.float64)
    within_x = np.asarray(rankdata(x), dtype=np.float64)
    within_z = np.asarray(rankdata(z), dtype=np.float64)
    v10 = (combined[:m] - within_x) / n
    v01 = 1.0 - (combined[m:] - within_z) / m
    return v10, v01, float(v10.mean())


def delong_auc_difference(
    labels: npt.ArrayLike,
    champion_scores: npt.ArrayLike,
    challenger_scores: npt.ArrayLike,
    confidence: float = 0.95,
) -> AucDifference:
    """DeLong, DeLong and Clarke-Pearson (1988) test of two correlated AUCs: both models scored
    the same applications, so the covariance of their placements narrows the interval compared
    with treating them as independent samples."""
    y, champion = labelled_scores(labels, champion_scores)
    _, challenger = labelled_scores(labels, challenger_scores)
    if not has_both_outcomes(y):
        raise ValueError("the AUC difference needs both defaulted and repaid loans")
    v10_a, v01_a, auc_a = _structural_components(y, champion)
    v10_b, v01_b, auc_b = _structural_components(y, challenger)
    m, n = v10_a.size, v01_a.size
    s10 = np.cov(np.vstack([v10_a, v10_b]), ddof=1) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack([v01_a, v01_b]), ddof=1) if n > 1 else np.zeros((2, 2))
    contrast = np.array([1.0, -1.0])
    variance = float(contrast @ (s10 / m + s01 / n) @ contrast)
    standard_error = math.sqrt(max(variance, 0.0))
    difference = auc_a - auc_b
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    if standard_error > 0:
        p_value = 2 * (1 - NormalDist().cdf(abs(difference) / standard_error))
    else:
        p_value = 1.0 if difference == 0 else 0.0
    return AucDifference(
        champion_auc=auc_a,
        challenger_auc=auc_b,
        difference=difference,
        standard_error=standard_error,
        low=difference - z * standard_error,
        high=difference + z * standard_error,
        p_value=p_value,
        count=int(y.size),
        defaults=int(y.sum()),
    )


def paired_scores(
    pairs: pd.DataFrame, champion_version: str, challenger_version: str
) -> pd.DataFrame:
    """The applications scored by both versions (whatever their roles), one row each with the
    outcome and both PDs: the input of `delong_auc_difference`."""
    columns = ["application_id", "pd", "defaulted"]
    a = pairs.loc[pairs["model_version"] == champion_version, columns]
    b = pairs.loc[pairs["model_version"] == challenger_version, ["application_id", "pd"]]
    if a["application_id"].duplicated().any() or b["application_id"].duplicated().any():
        raise ValueError("a version scored an application twice: pick one role per version first")
    joined = a.merge(b, on="application_id", suffixes=("_champion", "_challenger"))
    return joined.sort_values("application_id", ignore_index=True)
