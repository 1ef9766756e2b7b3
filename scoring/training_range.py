"""The range of each input quantity the model saw in training, and which applications leave it.

A spline model is flat beyond its training range, so an income of 2,100 when the training maximum
was 959 is scored as if it were 959: a number the model cannot vouch for. The range is recorded in
the model card, every score says which contract fields were outside it (`out_of_range_fields`),
and the policy can send such an application to review (`outside_training_range`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from scoring.features import FEATURE_NAMES

FloatMatrix = npt.NDArray[np.float64]

# Model feature -> the v1 contract field it is read from, for the raw quantities only (ratios are
# out of range only because one of these is, or they are ratios of in-range values).
# Age is not a model input (scoring.features.POLICY_ONLY_FEATURES): an age outside the training
# range makes no score an extrapolation, and referring older applicants for it would treat them
# adversely on age alone.
RANGE_FIELDS: Final[dict[str, str]] = {
    "job_seniority_years": "applicant.job_seniority_years",
    "monthly_income": "finances.monthly_income",
    "monthly_expenses": "finances.monthly_expenses",
    "assets": "finances.assets",
    "debt": "finances.debt",
    "loan_amount": "loan.amount",
    "term_months": "loan.term_months",
    "purchase_price": "loan.purchase_price",
}
_COLUMNS: Final = np.array([FEATURE_NAMES.index(name) for name in RANGE_FIELDS])
_FIELDS: Final = tuple(RANGE_FIELDS.values())


def observed_ranges(features: FloatMatrix) -> dict[str, dict[str, float]]:
    """{feature: {"min", "max"}} of the non-missing training values, for the model card."""
    values = features[:, _COLUMNS]
    return {
        name: {"min": float(np.nanmin(values[:, i])), "max": float(np.nanmax(values[:, i]))}
        for i, name in enumerate(RANGE_FIELDS)
    }


@dataclass(frozen=True, slots=True)
class TrainingRange:
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]

    @classmethod
    def from_card(cls, ranges: dict[str, dict[str, float]]) -> TrainingRange:
        return cls(
            low=np.array([ranges[name]["min"] for name in RANGE_FIELDS]),
            high=np.array([ranges[name]["max"] for name in RANGE_FIELDS]),
        )

    def outside(self, features: FloatMatrix) -> npt.NDArray[np.bool_]:
        """(rows, fields): a value below the minimum or above the maximum (missing is not)."""
        values = features[:, _COLUMNS]
        return (values < self.low) | (values > self.high)

    def fields_outside(self, features: FloatMatrix) -> list[tuple[str, ...]]:
        """The contract fields outside the range, per row, in contract order."""
        outside = self.outside(features)
        if not outside.any():
            return [()] * features.shape[0]
        return [tuple(f for f, out in zip(_FIELDS, row, strict=True) if out) for row in outside]
