"""Promotion and rollback: moving the `champion` alias, one command each.

Aliases are the only thing that changes; versions are immutable (but for the tags that record
a promotion's fairness verdict). `promote` remembers the
champion it replaces as `previous-champion`, so `rollback` is one step back without anyone
having to remember a number. Scorers pick the change up on their next start (a rolling restart,
`kubectl rollout restart`), which is also when the model is verified again.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from registry.store import (
    CHALLENGER,
    CHAMPION,
    FAIRNESS_ACCEPTED_TAG,
    FAIRNESS_GATE_TAG,
    LOWEST_IMPACT_RATIO_TAG,
    MODEL_NAME,
    MODEL_VERSION_TAG,
    PREVIOUS_CHAMPION,
    client,
)
from scoring.fairness import fairness_gate

logger = logging.getLogger(__name__)


class LifecycleError(RuntimeError):
    """A promotion or rollback that cannot be done (no such version, nothing to roll back to)."""


class FairnessGateError(LifecycleError):
    """A promotion refused because the challenger lowers the lowest adverse-impact ratio by more
    than the tolerance, and nobody accepted that with a reason."""


@dataclass(frozen=True, slots=True)
class AliasMove:
    """What a promotion or rollback did, for the operator's terminal and the audit log."""

    champion: str
    previous: str | None
    model_version: str
    fairness: str = ""  # the gate's verdict, for the operator's terminal


def _alias_version(alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client().get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def _model_version_of(version: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        found = client().get_model_version(MODEL_NAME, version)
    except MlflowException as error:
        raise LifecycleError(f"{MODEL_NAME} has no version {version}") from error
    return str(found.tags.get(MODEL_VERSION_TAG, "?"))


def _lowest_impact_ratio(version: str) -> float | None:
    """The version's recorded lowest held-out adverse-impact ratio; None if never recorded (a
    version registered before fairness was measured)."""
    tag = client().get_model_version(MODEL_NAME, version).tags.get(LOWEST_IMPACT_RATIO_TAG)
    return float(tag) if tag is not None else None


def promote(version: str, accept_fairness_regression: str | None = None) -> AliasMove:
    """Make `version` the champion; the current champion becomes previous-champion. A version
    that was the challenger stops being it (it now acts on every application).

    Refused (`FairnessGateError`) when its lowest adverse-impact ratio is more than the
    tolerance below the champion's (`scoring.fairness.fairness_gate`), unless
    `accept_fairness_regression` gives the reason; the verdict and that reason are written as
    tags of the promoted version, so the registry's lineage says who accepted what and why."""
    model_version = _model_version_of(version)
    registry = client()
    current = _alias_version(CHAMPION)
    if current == version:
        return AliasMove(version, _alias_version(PREVIOUS_CHAMPION), model_version)
    challenger_ratio = _lowest_impact_ratio(version)
    passed, verdict = fairness_gate(
        math.nan if challenger_ratio is None else challenger_ratio,
        _lowest_impact_ratio(current) if current is not None else None,
    )
    reason = (accept_fairness_regression or "").strip()
    if not passed and not reason:
        raise FairnessGateError(
            f"version {version} not promoted: fairness gate {verdict}. Give "
            "--accept-fairness-regression REASON to promote it anyway (recorded in the registry)."
        )
    registry.set_model_version_tag(MODEL_NAME, version, FAIRNESS_GATE_TAG, verdict)
    if not passed:
        registry.set_model_version_tag(MODEL_NAME, version, FAIRNESS_ACCEPTED_TAG, reason)
        logger.warning("fairness regression accepted for version %s: %s", version, reason)
    if current is not None:
        registry.set_registered_model_alias(MODEL_NAME, PREVIOUS_CHAMPION, current)
    registry.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    if _alias_version(CHALLENGER) == version:
        registry.delete_registered_model_alias(MODEL_NAME, CHALLENGER)
    logger.info(
        "promoted %s version %s (%s); previous %s; fairness %s",
        MODEL_NAME,
        version,
        model_version,
        current,
        verdict,
    )
    accepted = "" if passed else f" (regression accepted: {reason})"
    return AliasMove(version, current, model_version, f"{verdict}{accepted}")


def rollback() -> AliasMove:
    """Give `champion` back to `previous-champion`, and the demoted version becomes the
    previous-champion (so a second rollback undoes the first)."""
    previous = _alias_version(PREVIOUS_CHAMPION)
    if previous is None:
        raise LifecycleError("no previous-champion alias: nothing to roll back to")
    current = _alias_version(CHAMPION)
    registry = client()
    registry.set_registered_model_alias(MODEL_NAME, CHAMPION, previous)
    if current is not None:
        registry.set_registered_model_alias(MODEL_NAME, PREVIOUS_CHAMPION, current)
    logger.info("rolled %s back to version %s from %s", MODEL_NAME, previous, current)
    return AliasMove(previous, current, _model_version_of(previous))


def set_challenger(version: str) -> str:
    """Point the `challenger` alias at `version` (shadow or canary, as the scorer is set)."""
    model_version = _model_version_of(version)
    client().set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return model_version


def aliases() -> dict[str, tuple[str, str]]:
    """Alias -> (registry version, card model_version), for `loan-scorer model list`."""
    out: dict[str, tuple[str, str]] = {}
    for alias in (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION):
        version = _alias_version(alias)
        if version is not None:
            out[alias] = (version, _model_version_of(version))
    return out
