"""The Regulation B condition on age, checked on a fitted model.

An empirically derived credit system may use age only if applicants aged 62 or more are never
given a less favourable value for it than younger applicants (12 CFR 1002.6(b)(2)(ii)). The
model is additive, so the age term alone decides it: the highest log-odds of default the model
gives an age of 62 or more must not exceed the lowest it gives any younger age.

Measured with age as a spline curve (every seed of the study), the condition failed: the curve
is lowest around 25-30 and applicants of 62 or more scored up to 0.3 log-odds riskier. So age is
not a model input (`scoring.features.POLICY_ONLY_FEATURES`), training refuses a model whose age
term breaks the condition, and the card records both the served model's check and the
measurement that led to dropping age.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from scoring.additive import AdditiveScorecard
from scoring.features import FEATURE_NAMES

FloatVector = npt.NDArray[np.float64]

PROTECTED_AGE: Final = 62
# Every age the contract accepts (18 to 100), in whole years.
AGES: Final = np.arange(18, 101, dtype=np.float64)
_AGE_COLUMN: Final = FEATURE_NAMES.index("age")


class AgeConditionError(RuntimeError):
    """A fitted model would lower the score of applicants aged 62 or more below younger ones."""


def age_gap(log_odds_by_age: FloatVector, ages: FloatVector = AGES) -> float:
    """The highest log-odds of default at 62 or more minus the lowest below 62: positive means
    some older applicant is treated less favourably than some younger one for age alone."""
    older = ages >= PROTECTED_AGE
    return float(np.max(log_odds_by_age[older]) - np.min(log_odds_by_age[~older]))


def served_age_terms(scorecard: AdditiveScorecard, reference: FloatVector) -> FloatVector:
    """The served scorecard's age term at every age, everything else at the reference."""
    probe = np.tile(reference, (AGES.size, 1))
    probe[:, _AGE_COLUMN] = AGES
    return np.asarray(scorecard.column_terms(probe)[:, _AGE_COLUMN], dtype=np.float64)


def check_age_condition(scorecard: AdditiveScorecard, reference: FloatVector) -> dict[str, Any]:
    """The served model's record for the card; raise `AgeConditionError` if it fails."""
    terms = served_age_terms(scorecard, reference)
    gap = age_gap(terms)
    record = {
        "rule": "log-odds of default at age >= 62 never above its minimum below 62 "
        "(Regulation B, 12 CFR 1002.6(b)(2))",
        "age_is_model_input": bool(np.ptp(terms) > 0.0),
        "worst_gap_log_odds": gap,
        "holds": gap <= 1e-12,
    }
    if not record["holds"]:
        raise AgeConditionError(
            f"applicants aged {PROTECTED_AGE}+ would score up to {gap:.3f} log-odds riskier "
            "than younger ones for their age alone"
        )
    return record
