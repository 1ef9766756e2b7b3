"""The sliding-window drift monitor: eviction, the cold-start rule, the gauge, and real data.

The real-data tests use the session `model_dir` of tests/conftest.py (build/model when present)
and the training applications, i.e. the very population the card's baseline describes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client import CollectorRegistry

from consumer.telemetry.drift import DEFAULT_MIN_OBSERVATIONS, DEFAULT_WINDOW, DriftMonitor
from consumer.telemetry.metrics import ScorerMetrics
from schemas.application_v1 import LoanApplicationSubmitted
from scoring.artifact import LoadedModel, load_model, read_card
from scoring.drift import SCORE, BinLayout, card_layout, population_stability_index
from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_NAMES, build_features
from training.dataset import load_credit_data

# One feature split at 0 and a score split at 0.5, each half and half in the "baseline".
HALVES = {"cuts": [0.0], "proportions": [0.5, 0.5], "missing": 0.0}
PSI_METRIC = "loan_scorer_population_stability_index"
ONLY_HIGH_PSI = population_stability_index([0.5, 0.5, 0.0], [0.0, 1.0, 0.0])


def _monitor(
    *,
    window: int = DEFAULT_WINDOW,
    min_observations: int = DEFAULT_MIN_OBSERVATIONS,
    slot_observations: int | None = None,
) -> DriftMonitor:
    return DriftMonitor(
        BinLayout({"x": HALVES, SCORE: HALVES}),
        window=window,
        min_observations=min_observations,
        slot_observations=slot_observations,
    )


def _batch(rows: int, x: float, score: float = 0.25) -> tuple[npt.NDArray[np.float64], ...]:
    return np.full((rows, 1), x), np.full(rows, score)


def test_old_batches_leave_the_window() -> None:
    monitor = _monitor(window=10, min_observations=5, slot_observations=1)
    for _ in range(5):
        monitor.observe(*_batch(2, x=-1.0))
    assert monitor.psi()["x"] == pytest.approx(ONLY_HIGH_PSI)  # all low: the mirror image
    for _ in range(5):
        monitor.observe(*_batch(2, x=1.0))
    assert monitor.observations == 10
    assert monitor.psi()["x"] == pytest.approx(ONLY_HIGH_PSI)  # the low ones were all evicted
    monitor.observe(*_batch(4, x=-1.0))  # evicts the two oldest batches: 4 low, 6 high
    assert monitor.observations == 10
    assert monitor.psi()["x"] == pytest.approx(
        population_stability_index([0.5, 0.5, 0.0], [0.4, 0.6, 0.0])
    )


def test_the_window_holds_whole_slots_of_the_newest_observations() -> None:
    monitor = _monitor(window=50, min_observations=10, slot_observations=10)
    for _ in range(1_000):
        monitor.observe(*_batch(1, x=1.0))
        assert monitor.observations <= 50 + 10
    assert monitor.observations >= 50


def test_a_batch_larger_than_the_window_replaces_it() -> None:
    monitor = _monitor(window=10, min_observations=5)
    monitor.observe(*_batch(8, x=-1.0))
    monitor.observe(*_batch(30, x=1.0))
    assert monitor.observations == 30
    assert monitor.psi()["x"] == pytest.approx(ONLY_HIGH_PSI)


def test_nothing_is_reported_before_the_minimum_observations() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    gauge = metrics.population_stability_index
    monitor = _monitor(window=1_000, min_observations=500)
    monitor.observe(*_batch(499, x=1.0))  # wildly drifted, but too few to say so
    assert monitor.psi() == {}
    monitor.publish(gauge)
    assert metrics.registry.get_sample_value(PSI_METRIC, {"feature": "x"}) is None
    monitor.observe(*_batch(1, x=1.0))
    monitor.publish(gauge)
    assert metrics.registry.get_sample_value(PSI_METRIC, {"feature": "x"}) == pytest.approx(
        ONLY_HIGH_PSI
    )
    assert metrics.registry.get_sample_value(PSI_METRIC, {"feature": SCORE}) == pytest.approx(
        population_stability_index([0.5, 0.5, 0.0], [1.0, 0.0, 0.0])
    )


def test_binning_apart_from_adding_leaves_the_window_untouched() -> None:
    """`bin` then `add` is `observe` in two steps (bin in the pipeline, add after the commit)."""
    split, whole = _monitor(window=10, min_observations=1), _monitor(window=10, min_observations=1)
    binned = split.bin(*_batch(4, x=1.0))
    assert split.observations == 0
    split.add(binned)
    whole.observe(*_batch(4, x=1.0))
    assert split.psi() == whole.psi()


def test_rows_of_features_and_scores_must_match() -> None:
    with pytest.raises(ValueError, match="same rows"):
        _monitor().observe(np.zeros((3, 1)), np.zeros(2))


def test_inconsistent_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="min_observations"):
        _monitor(window=100, min_observations=200)


# -- against the real model card ------------------------------------------------------------


@pytest.fixture(scope="module")
def model(model_dir: Path) -> LoadedModel:
    return load_model(model_dir)


@pytest.fixture(scope="module")
def applications() -> list[LoanApplicationSubmitted]:
    return load_credit_data().applications


def _stream(
    monitor: DriftMonitor, model: LoadedModel, apps: list[LoanApplicationSubmitted]
) -> None:
    """Feed the monitor as the pipeline would: 500 applications a batch."""
    for start in range(0, len(apps), 500):
        features = build_features(apps[start : start + 500])
        monitor.observe(features, model.predict_pd(features))


def _with_double_income(app: LoanApplicationSubmitted) -> LoanApplicationSubmitted:
    income = app.finances.monthly_income
    if income is None:
        return app
    return app.model_copy(
        update={"finances": app.finances.model_copy(update={"monthly_income": 2 * income})}
    )


def test_the_training_population_does_not_drift(
    model: LoadedModel, applications: list[LoanApplicationSubmitted]
) -> None:
    rng = np.random.default_rng(5)
    sample = [applications[i] for i in rng.choice(len(applications), 2_500, replace=False)]
    monitor = DriftMonitor.for_model(model)
    _stream(monitor, model, sample)
    psi = monitor.psi()
    assert set(psi) == {*FEATURE_NAMES, SCORE}  # the gauge's label values, no more, no less
    assert max(psi.values()) < 0.1, sorted(psi.items(), key=lambda item: -item[1])[:3]


def test_doubled_incomes_raise_the_income_psi(
    model: LoadedModel, applications: list[LoanApplicationSubmitted]
) -> None:
    monitor = DriftMonitor.for_model(model)
    _stream(monitor, model, [_with_double_income(app) for app in applications])
    psi = monitor.psi()
    assert psi["monthly_income"] > 0.25
    assert psi["age"] < 0.1  # untouched inputs stay quiet: the alarm points at the cause


def test_a_card_without_a_baseline_for_a_feature_fails_at_start_up(model_dir: Path) -> None:
    card = read_card(model_dir)
    features = dict(card.baseline["features"])
    del features["monthly_income"]
    damaged = card.model_copy(update={"baseline": {**card.baseline, "features": features}})
    with pytest.raises(ModelIntegrityError, match="monthly_income"):
        card_layout(damaged)


def test_psi_is_published_at_most_once_per_interval() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    gauge = metrics.population_stability_index
    now = [100.0]
    monitor = DriftMonitor(
        BinLayout({"x": HALVES, SCORE: HALVES}),
        window=100,
        min_observations=10,
        publish_interval_s=1.0,
        clock=lambda: now[0],
    )

    def published_x() -> float | None:
        return metrics.registry.get_sample_value(PSI_METRIC, {"feature": "x"})

    monitor.observe(*_batch(10, x=-1.0))
    monitor.observe(*_batch(10, x=1.0))  # half and half, as in the baseline: PSI 0
    assert monitor.publish(gauge) is True
    first = published_x()
    monitor.observe(*_batch(100, x=1.0))  # the window is now all high: PSI changes
    now[0] += 0.5
    assert monitor.publish(gauge) is False
    assert published_x() == first  # held until the interval is over
    now[0] += 0.5
    assert monitor.publish(gauge) is True
    assert published_x() == pytest.approx(ONLY_HIGH_PSI) != first


def test_a_flush_publishes_what_the_interval_held_back_and_only_that() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    gauge = metrics.population_stability_index
    monitor = DriftMonitor(
        BinLayout({"x": HALVES, SCORE: HALVES}),
        window=100,
        min_observations=10,
        publish_interval_s=3600.0,
        clock=lambda: 0.0,
    )
    monitor.observe(*_batch(10, x=-1.0))
    monitor.observe(*_batch(10, x=1.0))
    assert monitor.publish(gauge) is True
    monitor.observe(*_batch(100, x=1.0))
    assert monitor.publish(gauge) is False  # within the interval: held back
    assert monitor.flush(gauge) is True  # the stream went quiet: published now
    assert metrics.registry.get_sample_value(PSI_METRIC, {"feature": "x"}) == pytest.approx(
        ONLY_HIGH_PSI
    )
    assert monitor.flush(gauge) is False  # nothing new since
