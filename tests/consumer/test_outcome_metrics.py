"""The realised metrics on pairs from the real data set: the gauges hold what scikit-learn and a
hand count say, a shadow challenger gets a paired AUC difference, small groups no ratio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from sklearn.metrics import brier_score_loss, roc_auc_score

from consumer.outcomes.metrics import RealisedMetrics
from impact.dataset_pairs import held_out_split, score_held_out
from impact.pairs import empty_pairs
from scoring.artifact import load_model
from scoring.policy import DEFAULT_POLICY_PATH, load_policy


@pytest.fixture(scope="module")
def pairs(model_dir: Path, challenger_model_dir: Path) -> pd.DataFrame:
    held_out = held_out_split()
    policy = load_policy(DEFAULT_POLICY_PATH)
    champion = score_held_out(held_out, load_model(model_dir), policy, "champion")
    shadow = score_held_out(held_out, load_model(challenger_model_dir), policy, "shadow")
    return pd.concat([champion, shadow], ignore_index=True)


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_each_version_and_role_gets_sklearns_auc_and_brier(pairs: pd.DataFrame) -> None:
    registry = CollectorRegistry()
    RealisedMetrics(registry).publish(pairs)
    for (version, role), group in pairs.groupby(["model_version", "role"]):
        labels = {"model_version": str(version), "role": str(role)}
        y, pd_ = group["defaulted"].to_numpy(), group["pd"].to_numpy()
        assert _value(registry, "loan_scorer_realised_roc_auc", **labels) == pytest.approx(
            roc_auc_score(y, pd_), abs=1e-12
        )
        assert _value(registry, "loan_scorer_realised_brier", **labels) == pytest.approx(
            brier_score_loss(y, pd_), abs=1e-12
        )
        assert _value(registry, "loan_scorer_realised_pairs", **labels) == len(group)
        approved = float(np.mean(group["decision"] == "approve"))
        assert _value(registry, "loan_scorer_realised_approval_rate", **labels) == approved


def test_the_default_rate_by_grade_is_the_share_of_defaults_in_the_grade(
    pairs: pd.DataFrame,
) -> None:
    registry = CollectorRegistry()
    RealisedMetrics(registry).publish(pairs)
    champion = pairs[pairs["role"] == "champion"]
    version = str(champion["model_version"].iloc[0])
    for grade in sorted(set(champion["grade"])):
        in_grade = champion[champion["grade"] == grade]
        expected = int(in_grade["defaulted"].sum()) / len(in_grade)
        got = _value(
            registry,
            "loan_scorer_realised_default_rate_by_grade",
            model_version=version,
            role="champion",
            grade=grade,
        )
        assert got == pytest.approx(expected, abs=1e-12)


def test_a_shadow_challenger_gets_a_paired_auc_difference_inside_its_interval(
    pairs: pd.DataFrame,
) -> None:
    registry = CollectorRegistry()
    RealisedMetrics(registry).publish(pairs)
    champion = pairs[pairs["role"] == "champion"].sort_values("application_id")
    shadow = pairs[pairs["role"] == "shadow"].sort_values("application_id")
    labels = {
        "champion_version": str(champion["model_version"].iloc[0]),
        "challenger_version": str(shadow["model_version"].iloc[0]),
        "challenger_role": "shadow",
    }
    expected = roc_auc_score(champion["defaulted"], champion["pd"]) - roc_auc_score(
        shadow["defaulted"], shadow["pd"]
    )
    difference = _value(registry, "loan_scorer_realised_auc_difference", **labels)
    low = _value(registry, "loan_scorer_realised_auc_difference_ci_low", **labels)
    high = _value(registry, "loan_scorer_realised_auc_difference_ci_high", **labels)
    assert difference == pytest.approx(expected, abs=1e-12)
    assert low is not None
    assert high is not None
    assert difference is not None
    assert low < difference < high


def test_adverse_impact_is_exported_only_for_groups_large_enough(pairs: pd.DataFrame) -> None:
    registry = CollectorRegistry()
    RealisedMetrics(registry).publish(pairs)
    champion = pairs[pairs["role"] == "champion"]
    version = str(champion["model_version"].iloc[0])
    sizes = {str(k): int(v) for k, v in champion.groupby("marital_status").size().items()}
    approved = (champion["decision"] == "approve").groupby(champion["marital_status"]).mean()
    rates = {str(k): float(v) for k, v in approved.items()}
    reference = max(rates[group] for group, size in sizes.items() if size >= 30)
    for group, size in sizes.items():
        got = _value(
            registry,
            "loan_scorer_adverse_impact_ratio",
            model_version=version,
            role="champion",
            attribute="marital_status",
            group=str(group),
        )
        if size < 30:
            assert got is None
        else:
            assert got == pytest.approx(rates[group] / reference, abs=1e-12)
    assert min(sizes.values()) < 30  # the small-group rule is exercised by the real data


def test_no_pairs_leave_no_series_behind(pairs: pd.DataFrame) -> None:
    registry = CollectorRegistry()
    metrics = RealisedMetrics(registry)
    metrics.publish(pairs)
    metrics.publish(empty_pairs())
    names = {s.name for family in registry.collect() for s in family.samples}
    assert not any(name.startswith("loan_scorer_realised_") for name in names)


def test_a_canary_is_paired_with_the_champion_scoring_its_applications_in_shadow(
    pairs: pd.DataFrame,
) -> None:
    """Every other application decided by the canary, the champion in shadow on those: the
    difference is still over every application, labelled canary."""
    frame = pairs.copy()
    champion_version = str(frame.loc[frame["role"] == "champion", "model_version"].iloc[0])
    challenger_version = str(frame.loc[frame["role"] == "shadow", "model_version"].iloc[0])
    on_canary = frame["application_id"].isin(sorted(set(frame["application_id"]))[::2])
    is_champion = frame["model_version"] == champion_version
    frame.loc[on_canary & is_champion, "role"] = "shadow"
    frame.loc[on_canary & ~is_champion, "role"] = "canary"
    frame = frame[~(~on_canary & ~is_champion)]  # the challenger scored only its canary share
    registry = CollectorRegistry()
    RealisedMetrics(registry).publish(frame)
    labels = {
        "champion_version": champion_version,
        "challenger_version": challenger_version,
        "challenger_role": "canary",
    }
    champion = frame[frame["model_version"] == champion_version].set_index("application_id")
    canary = frame[frame["model_version"] == challenger_version].set_index("application_id")
    shared = champion.loc[canary.index]
    expected = roc_auc_score(shared["defaulted"], shared["pd"]) - roc_auc_score(
        canary["defaulted"], canary["pd"]
    )
    got = registry.get_sample_value("loan_scorer_realised_auc_difference", labels)
    assert got == pytest.approx(expected, abs=1e-12)
