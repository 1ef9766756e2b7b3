"""What `loan-scorer report` reads (`ReportInput`) and gathering it from disk: pairs, card,
applications, policies.

The report's sections take a `ReportInput` and never open a file, so the rendering stays a pure
function of its input; everything that touches disk, a model or the data set is here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from impact.dataset_pairs import held_out_split, score_held_out
from impact.loss import DEFAULT_LGD
from impact.pairs import ACTING_ROLES, read_pairs, validate_pairs
from impact.what_if import with_cutoffs
from schemas.application_v1 import LoanApplicationSubmitted
from scoring.artifact import load_model, read_card
from scoring.card import ModelCard
from scoring.features import build_features
from scoring.policy import POLICY_DIR, Policy, load_policy

logger = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float64]

DEFAULT_APPROVE_BELOW: Final = (0.15, 0.25)


@dataclass(frozen=True, slots=True)
class ReportInput:
    """Everything the report reads; built by `build_report_input` or a test, so the sections
    never read from disk."""

    pairs: pd.DataFrame
    card: ModelCard
    generated_at: datetime
    features: FloatMatrix | None = None  # of the scored applications, FEATURE_NAMES order
    what_if_policies: Mapping[str, Policy] = field(default_factory=dict)
    recorded_policies: Mapping[str, Policy] = field(default_factory=dict)
    lgd: float = DEFAULT_LGD
    # The challenger's card, when one scored in shadow: the fairness gate compares its held-out
    # lowest adverse-impact ratio with the champion's.
    challenger_card: ModelCard | None = None


def bundled_policies() -> dict[str, Policy]:
    """Every policy file shipped in scoring/policy, by version."""
    policies = [load_policy(path) for path in sorted(POLICY_DIR.glob("*.yaml"))]
    return {policy.policy_version: policy for policy in policies}


def read_applications(path: Path) -> npt.NDArray[np.float64]:
    """Features of a JSON Lines file of v1 applications (blank lines skipped)."""
    with path.open(encoding="utf-8") as handle:
        applications = [
            LoanApplicationSubmitted.model_validate_json(line) for line in handle if line.strip()
        ]
    return build_features(applications)


def build_report_input(
    *,
    pairs_path: Path | None,
    model_dir: Path,
    challenger_model_dir: Path | None = None,
    applications_path: Path | None = None,
    what_if_policy_paths: Sequence[Path],
    what_if_approve_below: Sequence[float] | None,
    lgd: float,
    generated_at: datetime,
) -> ReportInput:
    card = read_card(model_dir)
    challenger_card = read_card(challenger_model_dir) if challenger_model_dir else None
    features = read_applications(applications_path) if applications_path else None
    if pairs_path is None:
        held_out = held_out_split(card.seed)
        policy = load_policy()
        pairs = score_held_out(held_out, load_model(model_dir), policy)
        if challenger_model_dir is not None:
            shadow = score_held_out(held_out, load_model(challenger_model_dir), policy, "shadow")
            pairs = validate_pairs(pd.concat([pairs, shadow], ignore_index=True))
        features = held_out.features() if features is None else features
    else:
        pairs = read_pairs(pairs_path)
    recorded = bundled_policies()
    extra = [load_policy(path) for path in what_if_policy_paths]
    recorded_version = str(
        pairs.loc[pairs["role"].isin(ACTING_ROLES), "policy_version"].value_counts().index[0]
    )
    if recorded_version not in recorded:
        raise ValueError(f"recorded policy {recorded_version} is not a bundled policy file")
    base = recorded[recorded_version]
    alternatives: dict[str, Policy] = {
        version: policy
        for version, policy in ({**recorded} if not extra else {}).items()
        if version != recorded_version
    }
    alternatives.update({policy.policy_version: policy for policy in extra})
    for cut in DEFAULT_APPROVE_BELOW if what_if_approve_below is None else what_if_approve_below:
        decline = max(base.cutoffs.decline_at_or_above, cut)
        alternatives[f"{recorded_version} approve<{cut:g}"] = with_cutoffs(base, cut, decline)
    return ReportInput(
        pairs=pairs,
        card=card,
        generated_at=generated_at,
        features=features,
        what_if_policies=alternatives,
        recorded_policies=recorded,
        lgd=lgd,
        challenger_card=challenger_card,
    )
