"""What a decision policy does on validation data: the numbers behind the policy file.

Run on out-of-fold PDs of the training split (never on the test split), so the cut-offs are
chosen on data the model did not fit and the test metrics stay unbiased.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.knockouts import triggered
from scoring.policy import DECISIONS, GRADES, Policy
from scoring.training_range import TrainingRange


def _summary(
    mask: npt.NDArray[np.bool_], labels: npt.NDArray[np.int64], pd: npt.NDArray[np.float64]
) -> dict[str, float]:
    count = int(mask.sum())
    return {
        "share": count / max(mask.size, 1),
        "count": count,
        "default_rate": float(labels[mask].mean()) if count else float("nan"),
        "mean_pd": float(pd[mask].mean()) if count else float("nan"),
    }


def analyse_policy(
    policy: Policy,
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    pd: npt.NDArray[np.float64],
    training_range: TrainingRange,
) -> dict[str, Any]:
    grades = np.array(policy.grade(pd))
    severity = policy.decide(pd)
    knocked = {rule.code: triggered(rule, features, training_range) for rule in policy.knock_outs}
    for rule in policy.knock_outs:
        hits = knocked[rule.code]
        severity[hits] = np.maximum(severity[hits], DECISIONS.index(rule.action))
    return {
        "policy_version": policy.policy_version,
        "rows": int(pd.size),
        "grades": {grade: _summary(grades == grade, labels, pd) for grade in GRADES},
        "decisions_pd_only": {
            decision: _summary(policy.decide(pd) == i, labels, pd)
            for i, decision in enumerate(DECISIONS)
        },
        "decisions": {
            decision: _summary(severity == i, labels, pd) for i, decision in enumerate(DECISIONS)
        },
        "knock_outs": {code: _summary(hits, labels, pd) for code, hits in knocked.items()},
    }
