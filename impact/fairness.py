"""Fairness on realised outcomes: approval rates per group against the four-fifths rule.

The outcomes joiner exports the adverse-impact ratio (and alerts on it) and `loan-scorer report`
prints it, so both compute it one way: here, with one threshold and one minimum group size.
"""

from __future__ import annotations

import math
from typing import Final

import pandas as pd

from impact.rates import approval_rate

FOUR_FIFTHS: Final = 0.8  # adverse-impact ratio below which a group is flagged (EEOC 4/5 rule)
MIN_GROUP_SIZE: Final = 30  # smaller groups are reported but never flagged nor the reference


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
