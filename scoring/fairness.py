"""Fairness by group: approval rates, default rates and the adverse-impact ratio (four-fifths).

One definition for every place that judges it: training writes the held-out table into the model
card, `loan-scorer model promote` gates on its lowest ratio, the outcomes joiner exports and
alerts on the same ratio from realised outcomes, and `loan-scorer report` prints it
(`impact.fairness` re-exports this module). Groups are bounded bands (`age_band`) or contract
categories, never identities.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import pandas as pd

FOUR_FIFTHS: Final = 0.8  # adverse-impact ratio below which a group is flagged (EEOC 4/5 rule)
MIN_GROUP_SIZE: Final = 30  # smaller groups are reported but never flagged nor the reference
# A challenger may lower the lowest adverse-impact ratio by this much at most, unless a person
# accepts the regression with a reason (`loan-scorer model promote --accept-fairness-regression`).
FAIRNESS_REGRESSION_TOLERANCE: Final = 0.05

AGE_BANDS: Final[tuple[str, ...]] = ("<25", "25-34", "35-44", "45-54", "55-64", "65+")


def age_band(age: int) -> str:
    """The bounded band of an age in whole years: fairness is measured per band, never per
    person, and six bands keep every metric label set small."""
    if age < 25:
        return "<25"
    if age >= 65:
        return "65+"
    low = 25 + (age - 25) // 10 * 10
    return f"{low}-{low + 9}"


def _approval_rate(decisions: pd.Series) -> float:
    values = np.asarray(decisions, dtype=object)
    return float(np.mean(values == "approve")) if values.size else math.nan


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
            "approval_rate": grouped["decision"].agg(_approval_rate),
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


def lowest_ratio(table: pd.DataFrame, min_group_size: int = MIN_GROUP_SIZE) -> float:
    """The lowest adverse-impact ratio among groups large enough to be judged (NaN if none)."""
    judged = table.loc[table["count"] >= min_group_size, "impact_ratio"].dropna()
    return float(judged.min()) if not judged.empty else math.nan


def fairness_gate(challenger_lowest: float, champion_lowest: float | None) -> tuple[bool, str]:
    """Whether a challenger may replace the champion on fairness alone, and why: its lowest
    adverse-impact ratio may sit at most `FAIRNESS_REGRESSION_TOLERANCE` below the champion's.
    A side without a measured ratio cannot be compared, and that is said, never guessed."""
    if champion_lowest is None or math.isnan(champion_lowest):
        return True, "not applicable: the champion has no measured adverse-impact ratio"
    if math.isnan(challenger_lowest):
        return False, "the challenger has no measured adverse-impact ratio"
    drop = champion_lowest - challenger_lowest
    verdict = (
        f"lowest adverse-impact ratio {challenger_lowest:.3f} against the champion's "
        f"{champion_lowest:.3f} (tolerance {FAIRNESS_REGRESSION_TOLERANCE})"
    )
    if drop > FAIRNESS_REGRESSION_TOLERANCE + 1e-12:
        return False, f"fails: {verdict}"
    return True, f"passes: {verdict}"
