"""Reason codes: the groups that raise an application's log-odds of default, and are true of it.

The model is additive in the log-odds (`scoring.additive`), so each reason group's term is its
exact contribution, and "how much this group raises the risk" is that term minus the same term
for the reference applicant (the training median, or the most common category). One pass, no
extra predictions.

A reason is said to an applicant, so it must be true of the application, not just of the model.
A group is given as a reason only when all of these hold:

- its contribution is material: at least `MIN_LOG_ODDS` (the odds of default at least 10 %
  higher than with the reference value);
- the applicant's value is on the adverse side of the reference, in the direction the catalogue
  states for that group (a low income, a high debt, ...). Spline curves wiggle, and above all they
  are flat beyond the training range: without this rule an income far above the median can come
  out "low" (issue #14);
- a missing value is given as a reason only when the catalogue says that not stating it is itself
  adverse (income, assets), with its own sentence; an unstated debt is never "outstanding debt".

Categories have no direction: a category is adverse exactly when its term exceeds the reference
category's, which is what the sentence says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from scoring.additive import GROUP_NAMES
from scoring.features import FEATURE_GROUPS, FEATURE_NAMES

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]

TOP_K: Final = 3
# exp(0.1) = 1.105: a group must raise the odds of default by about 10 % to be given as a reason.
MIN_LOG_ODDS: Final = 0.1

# +1: higher values raise the risk; -1: lower values do; 0: a category (no order).
Direction = Literal[-1, 0, 1]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason, most important first in a result: a stable code for systems, words for people."""

    code: str
    feature: str
    description: str


@dataclass(frozen=True, slots=True)
class ReasonRule:
    """A catalogue entry: when a group may be a reason, and what is said."""

    reason: Reason
    direction: Direction
    reportable: bool = True
    when_missing: Reason | None = None
    # A category block: the sentence names the applicant's own category (a reason must say
    # what about the application raised the risk, not just "housing").
    per_category: tuple[Reason, ...] = ()


def _rule(
    code: str,
    feature: str,
    direction: Direction,
    description: str,
    *,
    when_missing: str | None = None,
    reportable: bool = True,
) -> ReasonRule:
    missing = Reason(f"{code}_NOT_STATED", feature, when_missing) if when_missing else None
    return ReasonRule(Reason(code, feature, description), direction, reportable, missing)


def _category_rule(code: str, group: str, sentences: dict[str, str]) -> ReasonRule:
    """A one-hot block's rule: one sentence per category, in the block's column order."""
    columns = [name.split("=", 1)[1] for name in FEATURE_NAMES if FEATURE_GROUPS[name] == group]
    if sorted(columns) != sorted(sentences):
        raise RuntimeError(f"{code} must have a sentence for every category of {group}")
    per_category = tuple(Reason(code, group, sentences[value]) for value in columns)
    return ReasonRule(per_category[0], 0, per_category=per_category)


# Stable codes: never renumber; a retired group keeps its code reserved. docs/reasons.md lists
# this catalogue with each direction; a test keeps the two in step.
CATALOGUE: Final[dict[str, ReasonRule]] = {
    rule.reason.feature: rule
    for rule in (
        # Retired from the model (scoring.features.POLICY_ONLY_FEATURES): its term is 0, and it
        # is never given, whatever a future model does with it. The code stays reserved.
        _rule("R01_AGE", "age", 0, "Age (never given: not a model input)", reportable=False),
        _rule("R02_JOB_SENIORITY", "job_seniority_years", -1, "Short time with current employer"),
        _rule("R03_PRIOR_RECORDS", "has_prior_records", 1, "Prior records of payment arrears"),
        _rule(
            "R04_MONTHLY_INCOME",
            "monthly_income",
            -1,
            "Monthly income is low",
            when_missing="Monthly income was not stated",
        ),
        _rule("R05_MONTHLY_EXPENSES", "monthly_expenses", 1, "Monthly living expenses are high"),
        _rule(
            "R06_ASSETS",
            "assets",
            -1,
            "Few assets",
            when_missing="Assets were not stated",
        ),
        _rule("R07_DEBT", "debt", 1, "Outstanding debt is high"),
        _rule("R08_LOAN_AMOUNT", "loan_amount", 1, "Loan amount is large"),
        _rule("R09_TERM", "term_months", 1, "Loan term is long"),
        # No direction holds for the price on its own (the model's curve is U-shaped); its
        # adverse part is the share of it financed, which R11 reports.
        _rule("R10_PURCHASE_PRICE", "purchase_price", 0, "Price of the item", reportable=False),
        _rule("R11_LOAN_TO_PRICE", "loan_to_price", 1, "Loan finances a large share of the price"),
        _rule("R12_INSTALMENT", "instalment", 1, "Monthly instalment is high"),
        _rule(
            "R13_FREE_INCOME",
            "free_monthly_income",
            -1,
            "Little income left after expenses, debt service and the instalment",
        ),
        _rule(
            "R14_REPAYMENT_CAPACITY",
            "repayment_capacity",
            -1,
            "Disposable income covers the instalment only a few times",
        ),
        _rule(
            "R15_INSTALMENT_TO_INCOME",
            "instalment_to_income",
            1,
            "Instalment is a large share of income",
        ),
        _rule("R16_DEBT_TO_INCOME", "debt_to_annual_income", 1, "Debt is high relative to income"),
        _rule("R17_ASSETS_TO_LOAN", "assets_to_loan", -1, "Assets cover little of the loan"),
        _category_rule(
            "R18_HOME_OWNERSHIP",
            "home_ownership",
            {
                "rent": "Rents the home rather than owning it",
                "owner": "Owns the home",  # the reference category: never adverse in practice
                "parents": "Lives with parents rather than in an owned or rented home",
                "private": "Housing is a private arrangement, neither owned nor rented",
                "other": "Housing is neither owned nor rented",
            },
        ),
        _category_rule(
            "R19_JOB_TYPE",
            "job_type",
            {
                "fixed": "Employed on a fixed contract",  # the reference category
                "freelance": "Income is from freelance work, not a fixed employment contract",
                "partime": "Employed part-time, not on a fixed full-time contract",
                "others": "Employment is neither fixed, freelance nor part-time",
            },
        ),
        # R20 (marital status) is retired: marital status is a prohibited basis and is no
        # longer a feature. The code stays reserved and is never given again.
    )
}

# Given only when a review or decline would otherwise have no reason at all (no single group is
# material, knock-outs aside): true by construction, since the PD itself is above the cut-off.
OVERALL_RISK: Final = Reason(
    "R00_OVERALL_RISK",
    "probability_of_default",
    "No single factor stands out; together they put the risk above the approval cut-off",
)

if tuple(CATALOGUE) != GROUP_NAMES:
    raise RuntimeError("the reason catalogue must list every reason group, in feature order")


def group_columns(group: str) -> list[int]:
    """The feature columns of a reason group (one, or a whole one-hot block)."""
    return [i for i, name in enumerate(FEATURE_NAMES) if FEATURE_GROUPS[name] == group]


_RULES: Final = tuple(CATALOGUE[group] for group in GROUP_NAMES)
_DIRECTION: Final = np.array([rule.direction for rule in _RULES], dtype=np.float64)
_REPORTABLE: Final = np.array([rule.reportable for rule in _RULES])
_MISSING_REPORTABLE: Final = np.array([rule.when_missing is not None for rule in _RULES])
# The column holding each group's value; categories use it only for a missing check (never NaN).
_VALUE_COLUMN: Final = np.array([group_columns(group)[0] for group in GROUP_NAMES])
_COLUMNS: Final = tuple(group_columns(group) for group in GROUP_NAMES)
_CATEGORY_BLOCKS: Final = tuple(
    (group, np.array(columns)) for group, columns in enumerate(_COLUMNS) if len(columns) > 1
)


def reference_applicant(features: FloatMatrix) -> FloatVector:
    """The training median of each numeric feature and the most common category of each group."""
    reference = np.nanmedian(features, axis=0)
    for group in GROUP_NAMES:
        columns = group_columns(group)
        if len(columns) > 1:
            block = features[:, columns]
            reference[columns] = 0.0
            reference[columns[int(np.argmax(block.sum(axis=0)))]] = 1.0
        elif np.isnan(reference[columns[0]]):
            raise ValueError(f"reason group {group} has no observed value to take as reference")
    return reference.astype(np.float64)


def adverse_contributions(
    features: FloatMatrix,
    group_terms: FloatMatrix,
    reference: FloatVector,
    reference_terms: FloatVector,
) -> FloatMatrix:
    """(rows, groups): each group's rise in log-odds over the reference where that rise may be
    given as a reason, and 0 where it may not (not material, favourable side, not reportable)."""
    rise = group_terms - reference_terms
    values = features[:, _VALUE_COLUMN]
    missing = np.isnan(values)
    side = np.sign(values - reference[_VALUE_COLUMN]) * _DIRECTION
    adverse = np.where(_DIRECTION == 0, True, side > 0)
    allowed = np.where(missing, _MISSING_REPORTABLE, adverse & _REPORTABLE)
    return np.where(allowed & (rise >= MIN_LOG_ODDS), rise, 0.0)


def top_reasons(
    features: FloatMatrix,
    group_terms: FloatMatrix,
    reference: FloatVector,
    reference_terms: FloatVector,
    top_k: int = TOP_K,
) -> list[tuple[Reason, ...]]:
    """Up to `top_k` true reasons per application, the one raising its risk the most first."""
    if features.shape[0] == 0:
        return []
    contribution = adverse_contributions(features, group_terms, reference, reference_terms)
    order = np.argsort(-contribution, axis=1, kind="stable")[:, :top_k]
    # Everything a sentence needs is gathered for the whole batch first: numpy indexing one
    # element at a time inside the loop cost the stream a fifth of its throughput.
    given = np.take_along_axis(contribution, order, axis=1) > 0.0
    missing = np.take_along_axis(np.isnan(features[:, _VALUE_COLUMN]), order, axis=1)
    category = np.take_along_axis(_categories(features), order, axis=1)
    return [
        tuple(
            _sentence(_RULES[g], absent, which)
            for g, is_given, absent, which in zip(groups, gives, absents, categories, strict=True)
            if is_given
        )
        for groups, gives, absents, categories in zip(
            order.tolist(), given.tolist(), missing.tolist(), category.tolist(), strict=True
        )
    ]


def _categories(features: FloatMatrix) -> npt.NDArray[np.intp]:
    """(rows, groups): the applicant's category within each one-hot block (0 elsewhere)."""
    category = np.zeros((features.shape[0], len(_COLUMNS)), dtype=np.intp)
    for group, columns in _CATEGORY_BLOCKS:
        category[:, group] = np.argmax(features[:, columns], axis=1)
    return category


def _sentence(rule: ReasonRule, missing: bool, category: int) -> Reason:
    if missing and rule.when_missing is not None:
        return rule.when_missing
    if rule.per_category:
        return rule.per_category[category]
    return rule.reason
