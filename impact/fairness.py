"""Fairness on realised outcomes: approval rates per group against the four-fifths rule.

The outcomes joiner exports the adverse-impact ratio (and alerts on it), `loan-scorer report`
prints it, and training records it in the model card, so all compute it one way: in
`scoring.fairness`, which this module re-exports for the impact side.
"""

from __future__ import annotations

from scoring.fairness import FOUR_FIFTHS, MIN_GROUP_SIZE, adverse_impact, lowest_ratio

__all__ = ["FOUR_FIFTHS", "MIN_GROUP_SIZE", "adverse_impact", "lowest_ratio"]
