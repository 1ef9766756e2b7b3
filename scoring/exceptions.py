"""Why the scoring core refuses to start: a small tree, to catch the family or one case."""

from __future__ import annotations


class ScoringError(Exception):
    """Base of every error the scoring core raises on purpose."""


class ModelIntegrityError(ScoringError):
    """The model directory is incomplete, altered, or was built with other library versions."""


class PolicyError(ScoringError):
    """The decision-policy file is missing, unreadable, or breaks a rule of the policy schema."""
