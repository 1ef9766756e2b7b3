"""The fairness gate promotion applies: a challenger may lower the lowest adverse-impact ratio
by at most 0.05, and a side without a measured ratio is said, never guessed."""

from __future__ import annotations

import math

import pytest

from scoring.fairness import FAIRNESS_REGRESSION_TOLERANCE, fairness_gate


@pytest.mark.parametrize(
    ("challenger", "champion", "passes"),
    [
        (0.70, 0.70, True),
        (0.80, 0.70, True),  # fairer
        (0.66, 0.70, True),  # 0.04 lower: within the tolerance
        (0.65, 0.70, True),  # exactly 0.05 lower: still within
        (0.64, 0.70, False),  # 0.06 lower
        (0.30, 0.90, False),
    ],
)
def test_the_gate_allows_at_most_the_tolerance(
    challenger: float, champion: float, passes: bool
) -> None:
    assert FAIRNESS_REGRESSION_TOLERANCE == 0.05
    passed, verdict = fairness_gate(challenger, champion)
    assert passed is passes
    assert verdict.startswith("passes" if passes else "fails")
    assert f"{challenger:.3f}" in verdict
    assert f"{champion:.3f}" in verdict


def test_a_champion_without_a_measured_ratio_cannot_be_compared() -> None:
    assert fairness_gate(0.5, None) == (
        True,
        "not applicable: the champion has no measured adverse-impact ratio",
    )
    assert fairness_gate(0.5, math.nan)[0] is True


def test_a_challenger_without_a_measured_ratio_is_refused() -> None:
    passed, verdict = fairness_gate(math.nan, 0.7)
    assert passed is False
    assert "no measured" in verdict
