"""`score_batch` and its reason codes on the real trained model."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from scoring.additive import PD_FLOOR
from scoring.artifact import LoadedModel
from scoring.features import FEATURE_NAMES, build_features
from scoring.policy import Policy
from scoring.reasons import MIN_LOG_ODDS, top_reasons
from scoring.scorer import ScoreError, ScoreResult, score_batch
from tests.scoring.conftest import ApplicationFactory


def test_results_carry_everything_the_audit_needs(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    [result] = score_batch([make_application()], model, policy)
    assert isinstance(result, ScoreResult)
    assert 0.0 <= result.probability_of_default <= 1.0
    assert result.risk_grade in "ABCDE"
    assert result.decision in ("approve", "review", "decline")
    assert result.model_version == model.model_version
    assert result.policy_version == "policy-v2"
    assert len(result.reasons) <= 3


def test_risky_applicant_scores_worse_than_safe_one(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    safe = make_application(application_id="safe")
    risky = make_application(
        application_id="risky",
        applicant__has_prior_records=True,
        applicant__job_type="partime",
        applicant__job_seniority_years=0.0,
        finances__assets=0.0,
        loan__amount=1240.0,
    )
    safe_result, risky_result = score_batch([safe, risky], model, policy)
    assert isinstance(safe_result, ScoreResult)
    assert isinstance(risky_result, ScoreResult)
    assert risky_result.probability_of_default > safe_result.probability_of_default + 0.2
    assert risky_result.reasons[0].code == "R03_PRIOR_RECORDS"


def test_changing_the_top_feature_changes_the_top_reason(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    with_records = make_application(applicant__has_prior_records=True)
    [before] = score_batch([with_records], model, policy)
    assert isinstance(before, ScoreResult)
    assert before.reasons[0].code == "R03_PRIOR_RECORDS"
    [after] = score_batch([make_application(applicant__has_prior_records=False)], model, policy)
    assert isinstance(after, ScoreResult)
    assert all(reason.code != "R03_PRIOR_RECORDS" for reason in after.reasons)
    assert after.probability_of_default < before.probability_of_default


def test_knock_outs_come_first_and_only_tighten(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    [result] = score_batch([make_application(finances__monthly_income=None)], model, policy)
    assert isinstance(result, ScoreResult)
    assert result.reasons[0].code == "KO03_INCOME_MISSING"
    assert result.reasons[0].feature == "monthly_income"
    assert result.decision in ("review", "decline")


def test_reasons_come_in_order_of_their_exact_contribution(
    model: LoadedModel, make_application: ApplicationFactory
) -> None:
    app = make_application(
        applicant__has_prior_records=True,
        applicant__job_seniority_years=0.0,
        finances__assets=0.0,
        loan__amount=1240.0,
    )
    features = build_features([app])
    [reasons] = top_reasons(
        features, model.scorecard.group_terms(features), model.reference, model.reference_terms
    )
    assert len(reasons) == 3
    # The oracle is the model itself: the log-odds drop when the group takes the reference value.
    log_odds = np.log(model.predict_pd(features)) - np.log1p(-model.predict_pd(features))
    drops = []
    for reason in reasons:
        columns = [
            i for i, name in enumerate(FEATURE_NAMES) if name.split("=")[0] == reason.feature
        ]
        substituted = features.copy()
        substituted[0, columns] = model.reference[columns]
        pd = model.predict_pd(substituted)
        drops.append(float(log_odds[0] - (np.log(pd[0]) - np.log1p(-pd[0]))))
    assert drops == sorted(drops, reverse=True)
    assert min(drops) >= MIN_LOG_ODDS


def test_one_bad_record_does_not_fail_the_batch(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    class BrokenScorecard:
        """The real scorecard, but row 1's terms are not numbers."""

        def group_terms(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            terms = model.scorecard.group_terms(features)
            terms[1] = np.nan
            return terms

        def log_odds(self, terms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return model.scorecard.log_odds(terms)

    broken = dataclasses.replace(model, scorecard=BrokenScorecard())  # type: ignore[arg-type]  # duck-typed stub
    apps = [make_application(application_id=f"a{i}") for i in range(3)]
    outcomes = score_batch(apps, broken, policy)
    assert [type(o) for o in outcomes] == [ScoreResult, ScoreError, ScoreResult]
    error = outcomes[1]
    assert isinstance(error, ScoreError)
    assert error.application_id == "a1"
    assert error.error_type == "InvalidProbability"


def test_no_pd_is_zero_however_safe_the_applicant(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    [result] = score_batch(
        [
            make_application(
                applicant__job_seniority_years=40.0,
                finances__monthly_income=900.0,
                finances__assets=300000.0,
                finances__debt=0.0,
                loan__amount=100.0,
                loan__purchase_price=10000.0,
                loan__term_months=6,
            )
        ],
        model,
        policy,
    )
    assert isinstance(result, ScoreResult)
    assert result.probability_of_default >= PD_FLOOR
    assert result.decision == "approve"


def test_empty_batch(model: LoadedModel, policy: Policy) -> None:
    assert score_batch([], model, policy) == []


def test_a_policy_change_needs_no_retraining(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    strict = policy.model_copy(
        update={"policy_version": "policy-v2", "cutoffs": replace_cutoffs(policy, 0.0001, 0.0002)}
    )
    [result] = score_batch([make_application()], model, strict)
    assert isinstance(result, ScoreResult)
    assert (result.decision, result.policy_version) == ("decline", "policy-v2")


def replace_cutoffs(policy: Policy, approve: float, decline: float) -> object:
    return policy.cutoffs.model_copy(
        update={"approve_below": approve, "decline_at_or_above": decline}
    )
