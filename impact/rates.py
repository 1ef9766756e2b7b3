"""Approval and realised default rates: the counts the fairness, loss and what-if metrics share.

A rate of an empty group is NaN, never a made-up number. Pure functions of decisions or of a
joined-pair frame (`impact.pairs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd


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
