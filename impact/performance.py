"""Realised performance per model version and role: one row of every family's headline metric.

The outcomes joiner exports this table as gauges and `loan-scorer report` prints it, so the
discrimination (`impact.discrimination`), calibration (`impact.calibration`), rate
(`impact.rates`) and loss (`impact.loss`) metrics are gathered per version one way: here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from impact.calibration import brier_score, expected_calibration_error
from impact.discrimination import ks_statistic, roc_auc
from impact.loss import DEFAULT_LGD, expected_loss, realised_loss
from impact.rates import approval_rate


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
