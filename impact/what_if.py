"""What-if: the recorded scores decided again under other policies, side by side.

A policy is re-applied from what the joined pairs recorded (each PD and its knock-out codes), so
the what-if needs no model and no application; rules that no recorded score could show are named
instead of guessed. `loan-scorer report` prints the comparison and builds the cut-off variants
with `with_cutoffs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from impact.loss import DEFAULT_LGD, expected_loss, realised_loss
from impact.pairs import validate_pairs
from impact.rates import approval_rate
from scoring.policy import DECISIONS, Policy


def decisions_under(policy: Policy, pd_values: npt.ArrayLike, knock_outs: pd.Series) -> list[str]:
    """Each application's decision under `policy`: its PD cut-offs, then the recorded knock-out
    codes that `policy` also has, with that policy's action (a knock-out only makes a decision
    stricter). Rules of `policy` that no recorded score could have fired cannot be re-derived
    from scores; `what_if` names them."""
    severity = policy.decide(np.asarray(pd_values, dtype=np.float64))
    actions = {rule.code: DECISIONS.index(rule.action) for rule in policy.knock_outs}
    for row, codes in enumerate(knock_outs):
        for code in str(codes).split():
            if code in actions:
                severity[row] = max(int(severity[row]), actions[code])
    return [DECISIONS[index] for index in severity]


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The same applications decided under several policies, side by side."""

    decisions: pd.DataFrame  # one row per application, one `decision_<label>` column per policy
    summary: pd.DataFrame  # one row per policy
    # Per policy label: knock-out codes it has that the recorded policies lack, so their effect
    # is missing from the what-if (it needs the applications themselves: `loan-scorer rescore`).
    not_evaluated: Mapping[str, tuple[str, ...]]


def what_if(
    pairs: pd.DataFrame,
    policies: Mapping[str, Policy],
    recorded: Mapping[str, Policy],
    lgd: float = DEFAULT_LGD,
) -> WhatIf:
    """Decide the acting scores in `pairs` (one row per application) again under each policy in
    `policies` (label -> policy, e.g. another version or a moved cut-off), and summarise approvals,
    realised bad rate and expected loss of each approved book. `recorded` holds the policies that
    made the recorded decisions, by policy_version, to tell which rules the scores could show."""
    validate_pairs(pairs)
    if pairs["application_id"].duplicated().any():
        raise ValueError("what_if takes one row per application (the acting score)")
    missing = sorted(set(pairs["policy_version"]) - set(recorded))
    if missing:
        raise ValueError(f"recorded policies missing for {missing}")
    known = {
        rule.code
        for version in set(pairs["policy_version"])
        for rule in recorded[version].knock_outs
    }
    decisions = pairs[["application_id", "pd", "defaulted", "exposure", "decision"]].copy()
    decisions = decisions.rename(columns={"decision": "decision_recorded"})
    rows: list[dict[str, object]] = []
    not_evaluated: dict[str, tuple[str, ...]] = {}
    for label, policy in {"recorded": None, **policies}.items():
        if policy is None:
            chosen = decisions["decision_recorded"]
        else:
            chosen = pd.Series(
                decisions_under(policy, pairs["pd"], pairs["knock_outs"]), index=pairs.index
            )
            decisions[f"decision_{label}"] = chosen
            not_evaluated[label] = tuple(
                sorted(rule.code for rule in policy.knock_outs if rule.code not in known)
            )
        approved = chosen == "approve"
        rows.append(
            {
                "policy": label,
                "applications": len(chosen),
                **{f"{decision}_count": int((chosen == decision).sum()) for decision in DECISIONS},
                "approval_rate": approval_rate(chosen),
                "approved_default_rate": (
                    float(pairs.loc[approved, "defaulted"].mean()) if approved.any() else math.nan
                ),
                "expected_loss": expected_loss(pairs["pd"], pairs["exposure"], chosen, lgd),
                "realised_loss": realised_loss(pairs["defaulted"], pairs["exposure"], chosen, lgd),
            }
        )
    return WhatIf(decisions, pd.DataFrame(rows), not_evaluated)


def with_cutoffs(policy: Policy, approve_below: float, decline_at_or_above: float) -> Policy:
    """`policy` with other cut-offs (validated like a policy file), for a cut-off what-if."""
    data = policy.model_dump()
    data["cutoffs"] = {
        "approve_below": approve_below,
        "decline_at_or_above": decline_at_or_above,
    }
    return Policy.model_validate(data)
