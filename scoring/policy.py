"""The decision policy: PD bands to grades, cut-offs to decisions, knock-out rules.

It lives in a small YAML file under `scoring/policy/`, versioned on its own, so credit risk can
move a cut-off without retraining the model and every scored event names the policy that decided.
The file is validated when the service starts: a typo must stop the deployment, not change
decisions silently.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Annotated, Final, Literal, Self

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoring.exceptions import PolicyError

logger = logging.getLogger(__name__)

POLICY_DIR: Final = Path(__file__).resolve().parent / "policy"
DEFAULT_POLICY_PATH: Final = POLICY_DIR / "policy-v2.yaml"

Grade = Literal["A", "B", "C", "D", "E"]
Decision = Literal["approve", "review", "decline"]
KnockOutRule = Literal[
    "loan_above_purchase_price",
    "commitments_exceed_income",
    "income_missing",
    "age_at_maturity_above",
    "outside_training_range",
]
GRADES: Final[tuple[Grade, ...]] = ("A", "B", "C", "D", "E")
DECISIONS: Final[tuple[Decision, ...]] = ("approve", "review", "decline")  # in rising severity
_RULES_WITH_LIMIT: Final = frozenset({"age_at_maturity_above"})

Probability = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GradeBand(_Strict):
    grade: Grade
    pd_below: Probability


class Cutoffs(_Strict):
    approve_below: Probability
    decline_at_or_above: Probability

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.approve_below > self.decline_at_or_above:
            raise ValueError("approve_below must not exceed decline_at_or_above")
        return self


class KnockOut(_Strict):
    code: Annotated[str, Field(pattern=r"^KO\d{2}_[A-Z0-9_]+$")]
    rule: KnockOutRule
    action: Literal["review", "decline"]
    description: Annotated[str, Field(min_length=1)]
    limit: float | None = None

    @model_validator(mode="after")
    def _limit_when_needed(self) -> Self:
        if (self.rule in _RULES_WITH_LIMIT) != (self.limit is not None):
            needs = "needs a" if self.rule in _RULES_WITH_LIMIT else "takes no"
            raise ValueError(f"rule {self.rule} {needs} limit")
        return self


class Policy(_Strict):
    policy_version: Annotated[str, Field(pattern=r"^policy-v\d+(\.\d+)?$")]
    grades: list[GradeBand]
    cutoffs: Cutoffs
    knock_outs: list[KnockOut]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if tuple(band.grade for band in self.grades) != GRADES:
            raise ValueError(f"grades must be listed once each, in order {', '.join(GRADES)}")
        bounds = [band.pd_below for band in self.grades]
        if any(lower >= upper for lower, upper in itertools.pairwise(bounds)):
            raise ValueError("grade pd_below bounds must rise strictly from A to E")
        if bounds[-1] != 1.0:
            raise ValueError("grade E must reach pd_below 1.0 so every PD has a grade")
        codes = [rule.code for rule in self.knock_outs]
        if len(codes) != len(set(codes)):
            raise ValueError("knock-out codes must be unique")
        return self

    def grade(self, pd: npt.NDArray[np.float64]) -> list[Grade]:
        """Grade of each PD: the first band whose pd_below the PD is under (E takes PD = 1)."""
        bounds = np.array([band.pd_below for band in self.grades])
        index = np.minimum(np.searchsorted(bounds, pd, side="right"), len(GRADES) - 1)
        return [GRADES[i] for i in index]

    def decide(self, pd: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Decision index into DECISIONS from the PD alone, before knock-outs."""
        severity = np.ones(pd.shape, dtype=np.intp)
        severity[pd < self.cutoffs.approve_below] = 0
        severity[pd >= self.cutoffs.decline_at_or_above] = 2
        return severity


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate a policy file; every problem becomes a PolicyError naming the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"cannot read decision policy {path}: {error}") from error
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as error:
        raise PolicyError(f"invalid decision policy {path}: {error}") from error
    logger.info("decision policy %s loaded from %s", policy.policy_version, path)
    return policy
