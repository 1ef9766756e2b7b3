"""The held-out fairness record of the model card, and the same for the previous feature set.

For the test split: the approval rate, realised default rate and adverse-impact ratio per age
band and per marital status (`scoring.fairness`), under the bundled policy with its knock-outs,
so a ratio below four-fifths can be read against the groups' real default rates. The "before"
record fits the same recipe with marital status and age as model inputs (the feature set up to
issue #24) on the same split, so the card shows what dropping them did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_auc_score

from schemas.application_v1 import LoanApplicationSubmitted, MaritalStatus
from scoring.additive import PD_FLOOR
from scoring.fairness import (
    AGE_BANDS,
    FOUR_FIFTHS,
    MIN_GROUP_SIZE,
    adverse_impact,
    age_band,
    lowest_ratio,
)
from scoring.features import FEATURE_NAMES, MODEL_FEATURES
from scoring.policy import Policy
from scoring.scorer import decisions
from scoring.training_range import TrainingRange
from training.age_condition import AGES, age_gap

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]
IntVector = npt.NDArray[np.int64]

ATTRIBUTES: Final = ("age_band", "marital_status")
_MARITAL: Final = tuple(f"marital_status={m.value}" for m in MaritalStatus)
# The matrix of the previous feature set: the served one plus marital status, age a model input.
BEFORE_NAMES: Final = (*FEATURE_NAMES, *_MARITAL)
BEFORE_MODEL_FEATURES: Final = (*MODEL_FEATURES, "age", *_MARITAL)


def with_marital_status(
    features: FloatMatrix, apps: Sequence[LoanApplicationSubmitted]
) -> FloatMatrix:
    """The served matrix with the marital-status one-hot block appended (BEFORE_NAMES)."""
    members = list(MaritalStatus)
    block = np.zeros((len(apps), len(members)))
    for row, app in enumerate(apps):
        block[row, members.index(app.applicant.marital_status)] = 1.0
    return np.column_stack([features, block])


def fairness_table(
    apps: Sequence[LoanApplicationSubmitted], labels: IntVector, decided: Sequence[str]
) -> dict[str, Any]:
    """Per attribute, one row per group; and the lowest ratio over every judged group."""
    frame = pd.DataFrame(
        {
            # Bands in their natural order (<25 first), not in the order their labels sort.
            "age_band": pd.Categorical(
                [age_band(app.applicant.age) for app in apps], categories=AGE_BANDS, ordered=True
            ),
            "marital_status": [app.applicant.marital_status.value for app in apps],
            "decision": list(decided),
            "defaulted": labels.astype(np.float64),
        }
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    lowest: list[float] = []
    for attribute in ATTRIBUTES:
        table = adverse_impact(frame, attribute)
        lowest.append(lowest_ratio(table))
        groups[attribute] = [
            {
                "group": str(row[attribute]),
                "count": int(row["count"]),
                "approval_rate": float(row["approval_rate"]),
                "default_rate": float(row["default_rate"]),
                "impact_ratio": float(row["impact_ratio"]),
                "below_four_fifths": bool(row["below_four_fifths"]),
            }
            for _, row in table.iterrows()
        ]
    return {
        "approval_rate": float(np.mean(np.asarray(decided) == "approve")),
        "lowest_impact_ratio": float(np.nanmin(lowest)),
        "groups": groups,
    }


def held_out_fairness(
    *,
    apps_test: Sequence[LoanApplicationSubmitted],
    X_test: FloatMatrix,  # noqa: N803  # the scikit-learn spelling, as in train.py
    y_test: IntVector,
    pd_test: FloatVector,
    policy: Policy,
    training_range: TrainingRange,
    before: BaseEstimator,
    reference: FloatVector,
) -> dict[str, Any]:
    """The card's `fairness`: the served model on the test split, then the same recipe fitted
    with marital status and age (`before`, fitted by the caller on BEFORE_NAMES), with what its
    age curve did to applicants aged 62 or more."""
    after = fairness_table(apps_test, y_test, decisions(X_test, pd_test, policy, training_range))
    X_before = with_marital_status(X_test, apps_test)
    pd_before = np.maximum(before.predict_proba(X_before)[:, 1], PD_FLOOR)
    probe = np.tile(np.append(reference, np.zeros(len(_MARITAL))), (AGES.size, 1))
    probe[:, FEATURE_NAMES.index("age")] = AGES
    proba = np.asarray(before.predict_proba(probe)[:, 1], dtype=np.float64)
    age_terms = np.log(proba) - np.log1p(-proba)  # everything but age fixed: the age term
    return {
        "split": f"held-out test split ({len(apps_test)} applications)",
        "policy_version": policy.policy_version,
        "four_fifths": FOUR_FIFTHS,
        "min_group_size": MIN_GROUP_SIZE,
        **after,
        "test_roc_auc": float(roc_auc_score(y_test, pd_test)),
        "before": {
            "features": "the previous feature set: marital status and age as model inputs",
            **fairness_table(
                apps_test, y_test, decisions(X_test, pd_before, policy, training_range)
            ),
            "test_roc_auc": float(roc_auc_score(y_test, pd_before)),
            "age_gap_log_odds": age_gap(age_terms),
        },
    }
