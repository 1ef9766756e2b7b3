"""Joined pairs built from the real data set: the shipped model's scores on its test split and
the data set's real outcomes, plus a real second model (the L2 logistic candidate refit on the
same training rows) as the challenger. No outcome here is made up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.dataset_pairs import HeldOut, held_out_split, score_held_out
from impact.pairs import validate_pairs
from impact.what_if import decisions_under
from scoring.artifact import LoadedModel, load_model
from scoring.policy import Policy, load_policy
from training.candidates import build_candidates
from training.dataset import load_credit_data
from training.seed_study import split

CHALLENGER_VERSION = "credit-lr-challenger"


@pytest.fixture(scope="session")
def loaded_model(model_dir: Path) -> LoadedModel:
    return load_model(model_dir)


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def held_out() -> HeldOut:
    return held_out_split()


@pytest.fixture(scope="session")
def champion_pairs(
    held_out: HeldOut, loaded_model: LoadedModel, default_policy: Policy
) -> pd.DataFrame:
    return score_held_out(held_out, loaded_model, default_policy)


@pytest.fixture(scope="session")
def challenger_pd(held_out: HeldOut) -> np.ndarray:
    """PDs of a real challenger: the L2 logistic candidate fitted on the seed-42 training rows."""
    data = load_credit_data()
    from scoring.features import build_features

    features = build_features(data.applications)
    labels = np.asarray(data.labels, dtype=np.int64)
    parts = split(features, labels, 42)
    challenger = build_candidates()["logistic_l2"].fit(parts.X_train, parts.y_train)
    return np.asarray(challenger.predict_proba(held_out.features())[:, 1], dtype=np.float64)


@pytest.fixture(scope="session")
def shadow_pairs(
    champion_pairs: pd.DataFrame, challenger_pd: np.ndarray, default_policy: Policy
) -> pd.DataFrame:
    """The challenger's scores of the same applications, in the shadow role."""
    shadow = champion_pairs.copy()
    shadow["model_version"] = CHALLENGER_VERSION
    shadow["role"] = "shadow"
    shadow["pd"] = np.clip(challenger_pd, 0.0005, 1.0)
    shadow["grade"] = default_policy.grade(shadow["pd"].to_numpy())
    shadow["decision"] = decisions_under(default_policy, shadow["pd"], shadow["knock_outs"])
    return validate_pairs(shadow)


@pytest.fixture(scope="session")
def all_pairs(champion_pairs: pd.DataFrame, shadow_pairs: pd.DataFrame) -> pd.DataFrame:
    return validate_pairs(pd.concat([champion_pairs, shadow_pairs], ignore_index=True))
