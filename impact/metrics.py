"""Impact metrics on realised outcomes: pure functions of arrays or of a joined-pair frame.

The outcomes joiner exports them per model version and role and `loan-scorer report` prints
them, so both must compute them one way: here. Nothing reads a clock, a file or a broker.

Conventions: `labels` are 1 for a loan that went bad (defaulted) and 0 otherwise; `scores` are
probabilities of default, higher meaning riskier. Metrics that are undefined on the data (an AUC
with no defaults, a rate of an empty group) are NaN, never a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import rankdata

from impact.pairs import validate_pairs
from scoring.policy import DECISIONS, Policy

FloatVector = npt.NDArray[np.float64]

ECE_BINS: Final = 10  # as in training.evaluation, so the card's test_ece and production compare
# Loss given default used for expected loss: the Basel II foundation-IRB supervisory value for
# senior unsecured exposures (45 %). The data set says nothing about recoveries, so this is a
# documented setting (`lgd=` everywhere, `--lgd` on `loan-scorer report`), not an estimate.
DEFAULT_LGD: Final = 0.45
FOUR_FIFTHS: Final = 0.8  # adverse-impact ratio below which a group is flagged (EEOC 4/5 rule)
MIN_GROUP_SIZE: Final = 30  # smaller groups are reported but never flagged nor the reference


def _vectors(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[FloatVector, FloatVector]:
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D of one length, got {y.shape}, {s.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return y, s


def _both_classes(y: FloatVector) -> bool:
    return bool(0 < y.sum() < y.size)


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Realised ROC AUC: the chance a defaulted loan scored riskier than a repaid one, ties
    counted half (Mann-Whitney U over midranks). NaN without both outcomes."""
    y, s = _vectors(labels, scores)
    if not _both_classes(y):
        return math.nan
    ranks = np.asarray(rankdata(s), dtype=np.float64)
    positives = y == 1.0
    m = float(positives.sum())
    n = float(y.size - m)
    return float((ranks[positives].sum() - m * (m + 1) / 2) / (m * n))


def ks_statistic(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov: the widest gap between the score distributions of defaulted and
    repaid loans (0 = no separation, 1 = perfect). NaN without both outcomes."""
    y, s = _vectors(labels, scores)
    if not _both_classes(y):
        return math.nan
    thresholds = np.unique(s)
    bad = np.sort(s[y == 1.0])
    good = np.sort(s[y == 0.0])
    cdf_bad = np.searchsorted(bad, thresholds, side="right") / bad.size
    cdf_good = np.searchsorted(good, thresholds, side="right") / good.size
    return float(np.max(np.abs(cdf_bad - cdf_good)))


def brier_score(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Mean squared gap between PD and outcome (lower is better). NaN on no rows."""
    y, s = _vectors(labels, scores)
    return float(np.mean((s - y) ** 2)) if y.size else math.nan


def _bin_index(scores: FloatVector, bins: int) -> npt.NDArray[np.intp]:
    return np.minimum((scores * bins).astype(np.intp), bins - 1)


def expected_calibration_error(
    labels: npt.ArrayLike, scores: npt.ArrayLike, bins: int = ECE_BINS
) -> float:
    """ECE over equal-width PD bins: the share-weighted gap between mean PD and default rate
    (the definition of the model card's test_ece). NaN on no rows."""
    y, s = _vectors(labels, scores)
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
    y, s = _vectors(labels, scores)
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


def approval_rate(decisions: Sequence[str] | pd.Series) -> float:
    """Share of decisions that are `approve`. NaN on no decisions."""
    values = np.asarray(decisions, dtype=object)
    return float(np.mean(values == "approve")) if values.size else math.nan


def default_rate_by(pairs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per value of `column` (e.g. grade, decision, age_band): rows, defaults, realised default
    rate and mean PD, so the policy's bands can be checked against what really happened."""
    grouped = pairs.groupby(column, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "count": grouped.size(),
            "defaults": grouped["defaulted"].sum().astype("int64"),
            "default_rate": grouped["defaulted"].mean(),
            "mean_pd": grouped["pd"].mean(),
        }
    )
    return out.reset_index()


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
    y, champion = _vectors(labels, champion_scores)
    _, challenger = _vectors(labels, challenger_scores)
    if not _both_classes(y):
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


def adverse_impact(
    pairs: pd.DataFrame,
    group_column: str,
    min_group_size: int = MIN_GROUP_SIZE,
    threshold: float = FOUR_FIFTHS,
) -> pd.DataFrame:
    """Per group: rows, approval rate, realised default rate, and the adverse-impact ratio (its
    approval rate over the most favoured group's). Groups under `min_group_size` are shown but
    never the reference nor flagged: a rate of a handful of loans is noise."""
    grouped = pairs.groupby(group_column, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "count": grouped.size(),
            "approval_rate": grouped["decision"].agg(approval_rate),
            "default_rate": grouped["defaulted"].mean(),
        }
    ).reset_index()
    eligible = out["count"] >= min_group_size
    reference = out.loc[eligible, "approval_rate"].max() if eligible.any() else math.nan
    if reference > 0:
        out["impact_ratio"] = out["approval_rate"] / reference
    else:
        out["impact_ratio"] = math.nan
    out["reference"] = eligible & (out["approval_rate"] == reference)
    out["below_four_fifths"] = eligible & (out["impact_ratio"] < threshold)
    return out


def expected_loss(
    pd_values: npt.ArrayLike,
    exposure: npt.ArrayLike,
    decisions: Sequence[str] | pd.Series,
    lgd: float = DEFAULT_LGD,
) -> float:
    """Expected loss of the approved book: sum of PD x exposure x LGD over approved loans."""
    if not 0 <= lgd <= 1:
        raise ValueError(f"lgd must lie in [0, 1], got {lgd}")
    p = np.asarray(pd_values, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    approved = np.asarray(decisions, dtype=object) == "approve"
    return float(np.sum(p[approved] * e[approved]) * lgd)


def realised_loss(
    defaulted: npt.ArrayLike,
    exposure: npt.ArrayLike,
    decisions: Sequence[str] | pd.Series,
    lgd: float = DEFAULT_LGD,
) -> float:
    """What the approved book really lost at the same LGD: exposure x LGD of approved loans that
    defaulted. Set beside `expected_loss` it says whether the PDs priced the risk."""
    return expected_loss(np.asarray(defaulted, dtype=np.float64), exposure, decisions, lgd)


def decisions_under(policy: Policy, pd_values: npt.ArrayLike, knock_outs: pd.Series) -> list[str]:
    """Each application's decision under `policy`: its PD cut-offs, then the recorded knock-out
    codes that `policy` also has, with that policy's action (a knock-out only makes a decision
    stricter). Rules of `policy` that no recorded score could have fired cannot be re-derived
    from scores; `what_if` names them."""
    severity = policy.decide(np.asarray(pd_values, dtype=np.float64))
    actions = {rule.code: DECISIONS.index(rule.action) for rule in policy.knock_outs}
    for row, codes in enumerate(knock_outs):
        for code in str(codes).split():
            if code in actions:
                severity[row] = max(int(severity[row]), actions[code])
    return [DECISIONS[index] for index in severity]


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The same applications decided under several policies, side by side."""

    decisions: pd.DataFrame  # one row per application, one `decision_<label>` column per policy
    summary: pd.DataFrame  # one row per policy
    # Per policy label: knock-out codes it has that the recorded policies lack, so their effect
    # is missing from the what-if (it needs the applications themselves: `loan-scorer rescore`).
    not_evaluated: Mapping[str, tuple[str, ...]]


def what_if(
    pairs: pd.DataFrame,
    policies: Mapping[str, Policy],
    recorded: Mapping[str, Policy],
    lgd: float = DEFAULT_LGD,
) -> WhatIf:
    """Decide the acting scores in `pairs` (one row per application) again under each policy in
    `policies` (label -> policy, e.g. another version or a moved cut-off), and summarise approvals,
    realised bad rate and expected loss of each approved book. `recorded` holds the policies that
    made the recorded decisions, by policy_version, to tell which rules the scores could show."""
    validate_pairs(pairs)
    if pairs["application_id"].duplicated().any():
        raise ValueError("what_if takes one row per application (the acting score)")
    missing = sorted(set(pairs["policy_version"]) - set(recorded))
    if missing:
        raise ValueError(f"recorded policies missing for {missing}")
    known = {
        rule.code
        for version in set(pairs["policy_version"])
        for rule in recorded[version].knock_outs
    }
    decisions = pairs[["application_id", "pd", "defaulted", "exposure", "decision"]].copy()
    decisions = decisions.rename(columns={"decision": "decision_recorded"})
    rows: list[dict[str, object]] = []
    not_evaluated: dict[str, tuple[str, ...]] = {}
    for label, policy in {"recorded": None, **policies}.items():
        if policy is None:
            chosen = decisions["decision_recorded"]
        else:
            chosen = pd.Series(
                decisions_under(policy, pairs["pd"], pairs["knock_outs"]), index=pairs.index
            )
            decisions[f"decision_{label}"] = chosen
            not_evaluated[label] = tuple(
                sorted(rule.code for rule in policy.knock_outs if rule.code not in known)
            )
        approved = chosen == "approve"
        rows.append(
            {
                "policy": label,
                "applications": len(chosen),
                **{f"{decision}_count": int((chosen == decision).sum()) for decision in DECISIONS},
                "approval_rate": approval_rate(chosen),
                "approved_default_rate": (
                    float(pairs.loc[approved, "defaulted"].mean()) if approved.any() else math.nan
                ),
                "expected_loss": expected_loss(pairs["pd"], pairs["exposure"], chosen, lgd),
                "realised_loss": realised_loss(pairs["defaulted"], pairs["exposure"], chosen, lgd),
            }
        )
    return WhatIf(decisions, pd.DataFrame(rows), not_evaluated)


def with_cutoffs(policy: Policy, approve_below: float, decline_at_or_above: float) -> Policy:
    """`policy` with other cut-offs (validated like a policy file), for a cut-off what-if."""
    data = policy.model_dump()
    data["cutoffs"] = {
        "approve_below": approve_below,
        "decline_at_or_above": decline_at_or_above,
    }
    return Policy.model_validate(data)


def performance_by_version(pairs: pd.DataFrame, lgd: float = DEFAULT_LGD) -> pd.DataFrame:
    """Per (model_version, role): rows, defaults, AUC, KS, Brier, ECE, approval rate, realised
    default rate overall and of the approved, expected and realised loss of the approved book."""
    rows: list[dict[str, object]] = []
    for (version, role), group in pairs.groupby(["model_version", "role"], sort=True):
        y = group["defaulted"].to_numpy(dtype=np.float64)
        s = group["pd"].to_numpy(dtype=np.float64)
        approved = group["decision"] == "approve"
        rows.append(
            {
                "model_version": version,
                "role": role,
                "count": len(group),
                "defaults": int(y.sum()),
                "roc_auc": roc_auc(y, s),
                "ks": ks_statistic(y, s),
                "brier": brier_score(y, s),
                "ece": expected_calibration_error(y, s),
                "approval_rate": approval_rate(group["decision"]),
                "default_rate": float(y.mean()),
                "approved_default_rate": (
                    float(group.loc[approved, "defaulted"].mean()) if approved.any() else math.nan
                ),
                "expected_loss": expected_loss(s, group["exposure"], group["decision"], lgd),
                "realised_loss": realised_loss(y, group["exposure"], group["decision"], lgd),
            }
        )
    return pd.DataFrame(rows)
