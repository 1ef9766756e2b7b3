"""Reference distributions for drift checks (population stability index) later.

Format of one distribution, as stored in the model card:
``{"cuts": [c1, ..., ck], "proportions": [p0, ..., pk], "missing": m}``. The cuts are the
deciles of the non-missing training values (duplicates removed, so a 0/1 flag has one cut).
Bin 0 holds x <= c1, bin i holds c_i < x <= c_(i+1), bin k holds x > ck; ``proportions`` are
shares of all values, ``missing`` is the share of NaN, and everything sums to 1. A PSI check
bins live values with `bin_shares` and compares share by share.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import numpy.typing as npt

_DECILES = np.linspace(0.1, 0.9, 9)


class Distribution(TypedDict):
    cuts: list[float]
    proportions: list[float]
    missing: float


def bin_shares(values: npt.NDArray[np.float64], cuts: list[float]) -> tuple[list[float], float]:
    """Share of values in each bin defined by `cuts`, and the share missing."""
    total = max(values.size, 1)
    present = values[~np.isnan(values)]
    counts = np.bincount(
        np.searchsorted(np.asarray(cuts), present, side="left"), minlength=len(cuts) + 1
    )
    return [float(c) / total for c in counts], float(values.size - present.size) / total


def describe(values: npt.NDArray[np.float64]) -> Distribution:
    present = values[~np.isnan(values)]
    cuts = [float(c) for c in np.unique(np.quantile(present, _DECILES))] if present.size else []
    proportions, missing = bin_shares(values, cuts)
    return Distribution(cuts=cuts, proportions=proportions, missing=missing)
