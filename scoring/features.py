"""The one place where a validated v1 application becomes model features.

Training maps every data-set row onto a `LoanApplicationSubmitted` first and then calls
`build_features`; the online service calls the same function on the events it consumes. Nothing
else may compute a model input, so the model never sees in production a number computed
differently from how it was trained.

The matrix is float64 with NaN where the contract allows a value to be missing (income, assets,
debt) and for ratios whose denominator is missing or zero. Columns are built with
`np.fromiter` over plain attribute access: pandas costs milliseconds per call and a batch of 1,000
applications must featurise in a few.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from schemas.application_v1 import HomeOwnership, JobType, LoanApplicationSubmitted

logger = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]

# Outstanding debt is a balance, not a payment. We assume it is serviced at 3% a month, the usual
# minimum repayment on revolving consumer credit, to turn it into a monthly commitment.
DEBT_SERVICE_RATE: Final = 0.03

NUMERIC_FEATURES: Final[tuple[str, ...]] = (
    "age",
    "job_seniority_years",
    "has_prior_records",
    "monthly_income",
    "monthly_expenses",
    "assets",
    "debt",
    "loan_amount",
    "term_months",
    "purchase_price",
    "loan_to_price",
    "instalment",
    "free_monthly_income",
    "repayment_capacity",
    "instalment_to_income",
    "debt_to_annual_income",
    "assets_to_loan",
)

# One-hot groups follow the contract enums in their declared order, so the column layout is fixed
# by the v1 contract and not by whichever values happen to occur in a batch.
# Marital status is not among them: it is a prohibited basis (ECOA, Regulation B) and a protected
# ground in EU equal-treatment law. The contract keeps the field for the fairness report only.
ONE_HOT_GROUPS: Final[dict[str, type[StrEnum]]] = {
    "home_ownership": HomeOwnership,
    "job_type": JobType,
}

FEATURE_NAMES: Final[tuple[str, ...]] = NUMERIC_FEATURES + tuple(
    f"{group}={member.value}" for group, enum in ONE_HOT_GROUPS.items() for member in enum
)

# Columns of the matrix that the policy reads and the model never does. Age stays in the matrix
# for the knock-out on age at maturity and for drift monitoring; the candidates leave it out
# (`training.candidates`), so its term in the scorecard is zero for every applicant. It may come
# back only if the fitted model never raises the log-odds of default of an applicant aged 62 or
# more above a younger one's (Regulation B, 12 CFR 1002.6(b)(2)), which training checks
# (`training.age_condition`); measured with age as a curve, it did not hold (docs/mlops.md).
POLICY_ONLY_FEATURES: Final[tuple[str, ...]] = ("age",)
MODEL_FEATURES: Final[tuple[str, ...]] = tuple(
    name for name in FEATURE_NAMES if name not in POLICY_ONLY_FEATURES
)

# Contract fields the model never reads, and why (written to the model card).
MONITORING_ONLY_FIELDS: Final[dict[str, str]] = {
    "applicant.age": (
        "not a model input: with age as a curve, applicants aged 62 or more scored riskier than "
        "younger ones, which Regulation B forbids; read only by the age-at-maturity knock-out "
        "(a referral to review) and by the fairness report (age bands)"
    ),
    "applicant.marital_status": (
        "never a model input nor a reason: a prohibited basis (ECOA, Regulation B) and a "
        "protected ground in EU equal-treatment law; read only by the fairness report"
    ),
}

# Feature name -> reason group: a numeric feature is its own group, a one-hot block is one group
# (substituting half of a one-hot block would describe an applicant that cannot exist).
FEATURE_GROUPS: Final[dict[str, str]] = {
    name: name.split("=", 1)[0] if "=" in name else name for name in FEATURE_NAMES
}


def _column(values: Sequence[float | None], count: int) -> FloatVector:
    return np.fromiter(
        (np.nan if value is None else value for value in values), dtype=np.float64, count=count
    )


def _divide(numerator: FloatVector, denominator: FloatVector) -> FloatVector:
    """Ratio that is NaN, not infinite, when the denominator is missing or not positive."""
    result = np.full(numerator.shape, np.nan, dtype=np.float64)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def _one_hot(values: Sequence[StrEnum], enum: type[StrEnum], count: int) -> FloatMatrix:
    members = list(enum)
    index = {member: position for position, member in enumerate(members)}
    codes = np.fromiter((index[value] for value in values), dtype=np.intp, count=count)
    block = np.zeros((count, len(members)), dtype=np.float64)
    block[np.arange(count), codes] = 1.0
    return block


def build_features(apps: Sequence[LoanApplicationSubmitted]) -> FloatMatrix:
    """Featurise a batch of validated applications: shape (len(apps), len(FEATURE_NAMES))."""
    count = len(apps)
    applicants = [app.applicant for app in apps]
    finances = [app.finances for app in apps]
    loans = [app.loan for app in apps]

    age = _column([a.age for a in applicants], count)
    seniority = _column([a.job_seniority_years for a in applicants], count)
    records = _column([1.0 if a.has_prior_records else 0.0 for a in applicants], count)
    income = _column([f.monthly_income for f in finances], count)
    expenses = _column([f.monthly_expenses for f in finances], count)
    assets = _column([f.assets for f in finances], count)
    debt = _column([f.debt for f in finances], count)
    amount = _column([loan.amount for loan in loans], count)
    term = _column([loan.term_months for loan in loans], count)
    price = _column([loan.purchase_price for loan in loans], count)

    instalment = amount / term  # the contract guarantees term >= 1
    # Missing debt counts as no debt service here; the raw debt column keeps it missing.
    debt_service = np.nan_to_num(debt, nan=0.0) * DEBT_SERVICE_RATE
    disposable = income - expenses - debt_service
    numeric = (
        age,
        seniority,
        records,
        income,
        expenses,
        assets,
        debt,
        amount,
        term,
        price,
        amount / price,  # the contract guarantees price > 0
        instalment,
        disposable - instalment,
        _divide(disposable, instalment),
        _divide(instalment, income),
        _divide(debt, 12.0 * income),
        assets / amount,  # amount > 0 by contract; NaN assets stay NaN
    )
    one_hot = [
        _one_hot([getattr(a, group) for a in applicants], enum, count)
        for group, enum in ONE_HOT_GROUPS.items()
    ]
    return np.column_stack([*numeric, *one_hot]).astype(np.float64, copy=False)
