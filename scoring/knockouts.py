"""Knock-out rules: facts about an application that send it to a human whatever its PD.

Each rule reads the same feature matrix the model reads (built by `scoring.features`), so a rule
and the model can never disagree about what, say, the free monthly income of an application is.
The rule about the model itself (a value outside its training range) also reads that range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from scoring.features import FEATURE_NAMES
from scoring.policy import KnockOut, KnockOutRule
from scoring.training_range import TrainingRange

FloatMatrix = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_COLUMN: Final = {name: index for index, name in enumerate(FEATURE_NAMES)}

# The feature each rule is about, reported with its reason code.
RULE_FEATURE: Final[dict[KnockOutRule, str]] = {
    "loan_above_purchase_price": "loan_to_price",
    "commitments_exceed_income": "free_monthly_income",
    "income_missing": "monthly_income",
    "age_at_maturity_above": "age",
    "outside_training_range": "out_of_range_fields",
}


Rule = Callable[[FloatMatrix, float | None, TrainingRange], Mask]


def _loan_above_price(features: FloatMatrix, _limit: float | None, _range: TrainingRange) -> Mask:
    return features[:, _COLUMN["loan_to_price"]] > 1.0


def _commitments_exceed_income(
    features: FloatMatrix, _limit: float | None, _range: TrainingRange
) -> Mask:
    # NaN when income is missing: that case is the income_missing rule's, not this one's.
    free = features[:, _COLUMN["free_monthly_income"]]
    return np.less(free, 0.0, where=~np.isnan(free), out=np.zeros(free.shape, dtype=np.bool_))


def _income_missing(features: FloatMatrix, _limit: float | None, _range: TrainingRange) -> Mask:
    return np.isnan(features[:, _COLUMN["monthly_income"]])


def _age_at_maturity_above(
    features: FloatMatrix, limit: float | None, _range: TrainingRange
) -> Mask:
    if limit is None:  # the policy validator makes this unreachable; fail loudly if not
        raise ValueError("age_at_maturity_above needs a limit")
    maturity = features[:, _COLUMN["age"]] + features[:, _COLUMN["term_months"]] / 12.0
    return maturity > limit


def _outside_training_range(
    features: FloatMatrix, _limit: float | None, training_range: TrainingRange
) -> Mask:
    return np.asarray(training_range.outside(features).any(axis=1), dtype=np.bool_)


_RULES: Final[dict[KnockOutRule, Rule]] = {
    "loan_above_purchase_price": _loan_above_price,
    "commitments_exceed_income": _commitments_exceed_income,
    "income_missing": _income_missing,
    "age_at_maturity_above": _age_at_maturity_above,
    "outside_training_range": _outside_training_range,
}


def triggered(rule: KnockOut, features: FloatMatrix, training_range: TrainingRange) -> Mask:
    """Which rows of the batch the rule knocks out."""
    return _RULES[rule.rule](features, rule.limit, training_range)
