"""PSI on known distributions, and binning that agrees with the baseline training wrote."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.baseline import bin_shares, describe
from scoring.drift import PSI_EPSILON, BinLayout, population_stability_index
from scoring.exceptions import ModelIntegrityError

HALVES = {"x": {"cuts": [0.0], "proportions": [0.5, 0.5], "missing": 0.0}}


def test_identical_distributions_have_zero_psi() -> None:
    shares = [0.1, 0.2, 0.3, 0.4, 0.0]
    assert population_stability_index(shares, shares) == 0.0


def test_hand_computed_psi() -> None:
    # (0.75 - 0.5) ln(0.75 / 0.5) + (0.25 - 0.5) ln(0.25 / 0.5) = 0.25 (ln 1.5 + ln 2) = 0.25 ln 3;
    # the missing bin is empty on both sides and adds nothing.
    psi = population_stability_index([0.5, 0.5, 0.0], [0.75, 0.25, 0.0])
    assert psi == pytest.approx(0.25 * math.log(3.0), rel=1e-12)
    assert psi == pytest.approx(0.274653, abs=1e-6)


def test_an_empty_baseline_bin_is_floored_not_infinite() -> None:
    # 10% missing where training had none: (0.1 - 1e-4) ln(0.1 / 1e-4), plus (0.4 - 0.5) ln 0.8.
    psi = population_stability_index([0.5, 0.5, 0.0], [0.5, 0.4, 0.1])
    expected = (0.1 - PSI_EPSILON) * math.log(0.1 / PSI_EPSILON) + (0.4 - 0.5) * math.log(0.8)
    assert psi == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(psi)


def test_a_shifted_distribution_has_a_large_psi() -> None:
    rng = np.random.default_rng(7)
    baseline = describe(rng.normal(size=20_000))
    layout = BinLayout({"x": baseline})
    same = layout.psi(layout.count(rng.normal(size=(5_000, 1))))
    shifted = layout.psi(layout.count(rng.normal(loc=1.0, size=(5_000, 1))))
    assert same[0] < 0.01
    assert shifted[0] > 0.25


def test_count_agrees_with_the_binning_training_used() -> None:
    """Values on a cut, below the first and above the last, and NaN: the same bins as
    `scoring.baseline.bin_shares`, or live shares would not be comparable with the card's."""
    rng = np.random.default_rng(3)
    baselines = {
        "spread": describe(rng.normal(size=1_000)),
        "flag": describe(rng.integers(0, 2, size=1_000).astype(np.float64)),
        "integers": describe(rng.integers(18, 70, size=1_000).astype(np.float64)),
    }
    layout = BinLayout(baselines)
    values = np.column_stack(
        [
            rng.normal(size=600),
            rng.integers(0, 2, size=600).astype(np.float64),
            rng.integers(10, 80, size=600).astype(np.float64),
        ]
    )
    values[rng.random(values.shape) < 0.1] = np.nan
    binned = layout.count(values)
    assert binned.observations == 600
    for column, name in enumerate(layout.names):
        start = int(layout.offsets[column])
        cuts = baselines[name]["cuts"]
        shares, missing = bin_shares(values[:, column], cuts)
        got = binned.counts[start : start + len(cuts) + 2] / 600
        np.testing.assert_allclose(got, [*shares, missing])


def test_vectorised_psi_matches_the_reference_formula_per_column() -> None:
    rng = np.random.default_rng(11)
    layout = BinLayout(
        {
            "a": describe(rng.normal(size=2_000)),
            "b": describe(rng.exponential(size=2_000)),
        }
    )
    values = np.column_stack([rng.normal(0.3, size=800), rng.exponential(2.0, size=800)])
    binned = layout.count(values)
    psi = layout.psi(binned)
    for column in range(2):
        start = int(layout.offsets[column])
        stop = start + layout.cuts[column].size + 2
        reference = population_stability_index(
            layout.expected[start:stop].tolist(), (binned.counts[start:stop] / 800).tolist()
        )
        assert psi[column] == pytest.approx(reference, rel=1e-12)


def test_nothing_observed_is_nan_not_zero() -> None:
    layout = BinLayout(HALVES)
    assert np.isnan(layout.psi(layout.empty())).all()


def test_a_matrix_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="matrix"):
        BinLayout(HALVES).count(np.zeros((3, 2)))


@pytest.mark.parametrize(
    "distribution",
    [
        {"cuts": [0.0, 1.0], "proportions": [0.5, 0.5], "missing": 0.0},
        {"cuts": [1.0, 0.0], "proportions": [0.3, 0.3, 0.4], "missing": 0.0},
        {"cuts": [0.0], "proportions": [0.5, 0.4], "missing": 0.0},
    ],
    ids=["proportions-count", "cuts-order", "shares-sum"],
)
def test_a_malformed_baseline_is_a_model_integrity_error(
    distribution: dict[str, list[float] | float],
) -> None:
    with pytest.raises(ModelIntegrityError):
        BinLayout({"x": distribution})
