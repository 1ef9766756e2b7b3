"""`score_batch`: the one scoring function behind both the Kafka consumer and the HTTP API.

Pure (no I/O, no clock) and vectorised: one featurisation and one pass of the additive
scorecard give, together, every PD and every reason group's exact contribution, whatever the
batch size; nothing is predicted twice. A record whose PD is unusable becomes a `ScoreError` in
its slot; a failure of the batch as a whole is isolated to its culprit by `score_batch_isolated`,
which both callers use. One bad record never blocks the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.application_v1 import LoanApplicationSubmitted
from scoring.additive import probability_of_default
from scoring.artifact import LoadedModel
from scoring.features import build_features
from scoring.knockouts import RULE_FEATURE, triggered
from scoring.policy import DECISIONS, Decision, Grade, Policy
from scoring.reasons import OVERALL_RISK, Reason, top_reasons
from scoring.training_range import TrainingRange

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The outcome for one application: enough, with the versions, to audit the decision."""

    application_id: str
    probability_of_default: float
    risk_grade: Grade
    decision: Decision
    reasons: tuple[Reason, ...]
    model_version: str
    policy_version: str
    # Contract fields outside the model's training range (scored, but an extrapolation).
    out_of_range: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreError:
    """Why one application of the batch could not be scored (the consumer dead-letters it)."""

    application_id: str
    error_type: str
    message: str


ScoreOutcome = ScoreResult | ScoreError


def _knock_outs(
    features: npt.NDArray[np.float64], policy: Policy, training_range: TrainingRange
) -> tuple[list[list[Reason]], npt.NDArray[np.intp]]:
    count = features.shape[0]
    reasons: list[list[Reason]] = [[] for _ in range(count)]
    severity = np.zeros(count, dtype=np.intp)
    for rule in policy.knock_outs:
        hits = triggered(rule, features, training_range)
        severity[hits] = np.maximum(severity[hits], DECISIONS.index(rule.action))
        for row in np.flatnonzero(hits):
            reasons[row].append(Reason(rule.code, RULE_FEATURE[rule.rule], rule.description))
    return reasons, severity


def decisions(
    features: npt.NDArray[np.float64],
    pd: npt.NDArray[np.float64],
    policy: Policy,
    training_range: TrainingRange,
) -> list[Decision]:
    """The decision of each row, cut-offs and knock-outs together, exactly as `score_batch`
    makes it: for measuring a policy on PDs scored elsewhere (training's fairness table)."""
    _, severity = _knock_outs(features, policy, training_range)
    return [DECISIONS[i] for i in np.maximum(policy.decide(pd), severity).tolist()]


def score_batch(
    apps: Sequence[LoanApplicationSubmitted],
    model: LoadedModel,
    policy: Policy,
    features: npt.NDArray[np.float64] | None = None,
) -> list[ScoreOutcome]:
    """Score validated applications; the i-th outcome belongs to the i-th application.
    `features`, if given, is `build_features(apps)`, made once by a caller that needs it too."""
    if not apps:
        return []
    if features is None:
        features = build_features(apps)
    terms = model.scorecard.group_terms(features)
    pd = probability_of_default(model.scorecard.log_odds(terms))
    valid = np.isfinite(pd) & (pd <= 1.0)  # the floor already keeps it above 0
    model_reasons = iter(
        top_reasons(features[valid], terms[valid], model.reference, model.reference_terms)
    )
    knock_out_reasons, knock_out_severity = _knock_outs(
        features[valid], policy, model.training_range
    )
    out_of_range = model.training_range.fields_outside(features)
    grades = policy.grade(pd[valid])
    severity = np.maximum(policy.decide(pd[valid]), knock_out_severity)

    outcomes: list[ScoreOutcome] = []
    position = 0
    for index, (app, usable, probability) in enumerate(
        zip(apps, valid.tolist(), pd.tolist(), strict=True)
    ):
        if not usable:
            outcomes.append(
                ScoreError(
                    app.application_id, "InvalidProbability", f"model returned PD {probability!r}"
                )
            )
            continue
        reasons = (*knock_out_reasons[position], *next(model_reasons))
        if not reasons and severity[position] > 0:
            reasons = (OVERALL_RISK,)  # an adverse decision always says why
        outcomes.append(
            ScoreResult(
                application_id=app.application_id,
                probability_of_default=probability,
                risk_grade=grades[position],
                decision=DECISIONS[severity[position]],
                reasons=reasons,
                model_version=model.model_version,
                policy_version=policy.policy_version,
                out_of_range=out_of_range[index],
            )
        )
        position += 1
    return outcomes


def score_batch_isolated(
    apps: Sequence[LoanApplicationSubmitted],
    model: LoadedModel,
    policy: Policy,
    features: npt.NDArray[np.float64] | None = None,
) -> list[ScoreOutcome]:
    """`score_batch`, and only if it fails for the batch as a whole, once per application, so
    that a single culprit becomes a `ScoreError` and the rest are still scored. The stream and
    the HTTP API both score through this."""
    try:
        return score_batch(apps, model, policy, features)
    except Exception:
        logger.exception("batch scoring failed; scoring %d applications one by one", len(apps))
    outcomes: list[ScoreOutcome] = []
    for app in apps:
        try:
            outcomes.extend(score_batch([app], model, policy))
        except Exception as error:  # isolated to this application
            outcomes.append(ScoreError(app.application_id, type(error).__name__, str(error)[:200]))
    return outcomes
