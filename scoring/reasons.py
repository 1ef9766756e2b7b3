"""Reason codes: which features raise an application's PD the most, measured on the model itself.

For every reason group (a numeric feature, or a whole one-hot block) we replace the applicant's
value by the reference applicant's (the training median, or the most common category) and ask
the model again. The PD drop is how much that group raises this applicant's PD. All substitutions
for the whole batch are stacked into one matrix and scored with ONE model call, so explaining a
batch costs one extra prediction on (groups x batch) rows, whatever the model is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from scoring.features import FEATURE_GROUPS, FEATURE_NAMES

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]
PredictPD = Callable[[FloatMatrix], FloatVector]

TOP_K: Final = 3
# A group must raise the PD by at least this much (0.1 point) to be given as a reason.
MIN_PD_INCREASE: Final = 0.001


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason, most important first in a result: a stable code for systems, words for people."""

    code: str
    feature: str
    description: str


# Stable codes: never renumber; a retired group keeps its code reserved.
REASON_CATALOG: Final[dict[str, Reason]] = {
    reason.feature: reason
    for reason in (
        Reason("R01_AGE", "age", "Applicant age is associated with higher default risk"),
        Reason("R02_JOB_SENIORITY", "job_seniority_years", "Short time with the current employer"),
        Reason("R03_PRIOR_RECORDS", "has_prior_records", "Prior records of payment arrears"),
        Reason("R04_MONTHLY_INCOME", "monthly_income", "Monthly income is low or not stated"),
        Reason("R05_MONTHLY_EXPENSES", "monthly_expenses", "High monthly living expenses"),
        Reason("R06_ASSETS", "assets", "Few assets or assets not stated"),
        Reason("R07_DEBT", "debt", "Outstanding debt"),
        Reason("R08_LOAN_AMOUNT", "loan_amount", "Loan amount"),
        Reason("R09_TERM", "term_months", "Loan term"),
        Reason("R10_PURCHASE_PRICE", "purchase_price", "Price of the item being financed"),
        Reason("R11_LOAN_TO_PRICE", "loan_to_price", "Loan finances a large share of the price"),
        Reason("R12_INSTALMENT", "instalment", "High monthly instalment"),
        Reason(
            "R13_FREE_INCOME",
            "free_monthly_income",
            "Little income left after expenses, debt service and the instalment",
        ),
        Reason(
            "R14_REPAYMENT_CAPACITY",
            "repayment_capacity",
            "Disposable income covers the instalment only a few times",
        ),
        Reason(
            "R15_INSTALMENT_TO_INCOME",
            "instalment_to_income",
            "Instalment is a large share of income",
        ),
        Reason("R16_DEBT_TO_INCOME", "debt_to_annual_income", "Debt is high relative to income"),
        Reason("R17_ASSETS_TO_LOAN", "assets_to_loan", "Assets cover little of the loan"),
        Reason("R18_HOME_OWNERSHIP", "home_ownership", "Housing situation"),
        Reason("R19_JOB_TYPE", "job_type", "Type of employment"),
        Reason("R20_MARITAL_STATUS", "marital_status", "Marital status"),
    )
}

GROUP_NAMES: Final[tuple[str, ...]] = tuple(dict.fromkeys(FEATURE_GROUPS.values()))
_GROUP_COLUMNS: Final[tuple[npt.NDArray[np.intp], ...]] = tuple(
    np.array([i for i, name in enumerate(FEATURE_NAMES) if FEATURE_GROUPS[name] == group])
    for group in GROUP_NAMES
)


def reference_applicant(features: FloatMatrix) -> FloatVector:
    """The training median of each numeric feature and the most common category of each group."""
    reference = np.nanmedian(features, axis=0)
    for group, columns in zip(GROUP_NAMES, _GROUP_COLUMNS, strict=True):
        if columns.size > 1:
            block = features[:, columns]
            reference[columns] = 0.0
            reference[columns[int(np.argmax(block.sum(axis=0)))]] = 1.0
        elif np.isnan(reference[columns[0]]):
            raise ValueError(f"reason group {group} has no observed value to take as reference")
    return reference.astype(np.float64)


def pd_increase_by_group(
    predict_pd: PredictPD, features: FloatMatrix, pd: FloatVector, reference: FloatVector
) -> FloatMatrix:
    """(groups, batch) matrix: PD minus the PD with that group set to the reference."""
    count = features.shape[0]
    stacked = np.repeat(features[np.newaxis, :, :], len(GROUP_NAMES), axis=0)
    for position, columns in enumerate(_GROUP_COLUMNS):
        stacked[position][:, columns] = reference[columns]
    substituted = predict_pd(stacked.reshape(-1, features.shape[1])).reshape(
        len(GROUP_NAMES), count
    )
    return pd[np.newaxis, :] - substituted


def top_reasons(
    predict_pd: PredictPD,
    features: FloatMatrix,
    pd: FloatVector,
    reference: FloatVector,
    top_k: int = TOP_K,
) -> list[tuple[Reason, ...]]:
    """Up to `top_k` reasons per application, the group raising its PD the most first."""
    if features.shape[0] == 0:
        return []
    increase = pd_increase_by_group(predict_pd, features, pd, reference)
    order = np.argsort(-increase, axis=0, kind="stable")[:top_k]
    return [
        tuple(
            REASON_CATALOG[GROUP_NAMES[g]]
            for g in order[:, row]
            if increase[g, row] >= MIN_PD_INCREASE
        )
        for row in range(features.shape[0])
    ]
