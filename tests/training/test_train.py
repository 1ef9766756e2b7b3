"""One real training run: the card clears the bar and the report exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from scoring.additive import PD_FLOOR
from scoring.artifact import ARTIFACT_FILE, CARD_FILE, library_versions
from scoring.features import FEATURE_NAMES
from training.dataset import DATA_SHA256


def _card(model_dir: Path) -> dict[str, object]:
    card: dict[str, object] = json.loads((model_dir / CARD_FILE).read_text())
    return card


def test_metrics_clear_the_bar(model_dir: Path) -> None:
    metrics = _card(model_dir)["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["cv_roc_auc"] >= 0.85
    # Calibrated within sampling noise: a perfectly calibrated model would show a larger ECE on
    # these PDs more than 5 % of the time.
    assert metrics["test_ece"] <= metrics["test_ece_noise_p95"]
    assert metrics["test_ece_noise_floor"] < metrics["test_ece_noise_p95"] < 0.06
    for name in ("test_roc_auc", "test_ks", "test_brier"):
        assert 0.0 < metrics[name] < 1.0
    # The PD ranks: (almost) every test application gets its own PD, none below the floor.
    assert metrics["test_distinct_pd"] >= 0.99 * metrics["test_rows"]
    assert metrics["test_min_pd"] >= PD_FLOOR
    assert metrics["compiled_max_log_odds_error"] < 1e-9


def test_the_bars_hold_over_ten_split_seeds(model_dir: Path) -> None:
    card = _card(model_dir)
    study = card["seed_study"]
    assert isinstance(study, dict)
    assert study["seeds"] == list(range(10))
    candidates = study["candidates"]
    chosen = candidates[str(card["candidate"])][_calibration(card)]
    assert chosen["cv_roc_auc"]["mean"] >= 0.85
    # Issue #24's target for the worst seed is 0.845; without marital status and age it is
    # 0.8440 (seed 6), and the card says so rather than the test hiding it.
    assert chosen["cv_roc_auc"]["worst"] >= 0.843
    assert chosen["seeds_within_ece_noise"] == {"count": 10.0, "of": 10.0}
    # Every model of the study compiled exactly: every seed trains.
    assert chosen["compiled_max_log_odds_error"]["worst"] < 1e-9
    # The choice is the best mean CV AUC among the candidates.
    best = max(candidates, key=lambda name: candidates[name]["none"]["cv_roc_auc"]["mean"])
    assert card["candidate"] == best


def test_the_card_states_each_target_and_by_how_much_it_misses(model_dir: Path) -> None:
    targets = _card(model_dir)["seed_study"]["chosen"]  # type: ignore[index]
    per_seed = targets["per_seed"]
    aucs = [row["cv_roc_auc"] for row in per_seed.values()]
    assert len(aucs) == 10
    assert targets["cv_roc_auc_mean"]["value"] == pytest.approx(sum(aucs) / 10)
    low = targets["cv_roc_auc_min"]
    assert low["value"] == min(aucs)
    assert low["met"] is (min(aucs) >= 0.845)
    assert low["short_by"] == max(0.0, 0.845 - min(aucs))
    within = targets["test_ece_within_noise_p95"]
    assert within["seeds"] == sum(
        row["test_ece"] <= row["test_ece_noise_p95"] for row in per_seed.values()
    )


def _calibration(card: dict[str, object]) -> str:
    return "sigmoid" if "calibration sigmoid" in str(card["estimator"]) else "none"


def test_card_describes_the_model(model_dir: Path) -> None:
    card = _card(model_dir)
    assert str(card["model_version"]).startswith("credit-")
    assert card["feature_names"] == list(FEATURE_NAMES)
    policy = card["feature_policy"]
    assert isinstance(policy, dict)
    assert not any(name.startswith(("marital_status", "age")) for name in policy["model_inputs"])
    assert set(policy["monitoring_only_fields"]) == {"applicant.age", "applicant.marital_status"}
    assert policy["age_condition"]["holds"] is True
    assert card["library_versions"] == library_versions()
    training_data = card["training_data"]
    assert isinstance(training_data, dict)
    assert training_data["sha256"] == DATA_SHA256
    assert training_data["rows_excluded"] == 8
    comparison = card["cv_comparison"]
    assert isinstance(comparison, dict)
    assert set(comparison) == {"logistic_l2", "logistic_spline"}
    baseline = card["baseline"]
    assert isinstance(baseline, dict)
    assert set(baseline["features"]) == set(FEATURE_NAMES)
    score = baseline["score"]
    assert abs(sum(score["proportions"]) + score["missing"] - 1.0) < 1e-9
    thresholds = card["decision_thresholds"]
    assert isinstance(thresholds, dict)
    assert thresholds["policy_version"] == "policy-v2"


def test_artifact_and_report_are_written(model_dir: Path) -> None:
    assert (model_dir / ARTIFACT_FILE).stat().st_size > 0
    for name in ("roc.png", "calibration.png", "score_distribution.png"):
        with Image.open(model_dir / name) as image:
            assert image.width > 300
            assert image.height > 300


def test_training_reports_each_step_as_it_starts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The progress bar of `loan-scorer train` is driven by these calls: one per study seed, in
    the study's order, then the steps after it, and as many as the bar's total."""
    from tests.training.trained import training_steps
    from training.seed_study import STUDY_SEEDS
    from training.train import STEPS_AFTER_STUDY, TRAINING_STEPS

    steps = training_steps(tmp_path_factory)

    assert len(steps) == TRAINING_STEPS
    assert steps == [f"seed study: split seed {seed}" for seed in STUDY_SEEDS] + list(
        STEPS_AFTER_STUDY
    )
