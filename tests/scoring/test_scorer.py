"""`score_batch` and its reason codes on the real trained model."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from scoring.artifact import LoadedModel
from scoring.features import FEATURE_NAMES, build_features
from scoring.policy import Policy
from scoring.reasons import REASON_CATALOG, pd_increase_by_group, top_reasons
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
    assert result.policy_version == "policy-v1"
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


def test_reasons_are_faithful_to_the_model(
    model: LoadedModel, make_application: ApplicationFactory
) -> None:
    app = make_application(applicant__has_prior_records=True, finances__assets=0.0)
    features = build_features([app])
    pd = model.predict_pd(features)
    increase = pd_increase_by_group(model.predict_pd, features, pd, model.reference)
    records = FEATURE_NAMES.index("has_prior_records")
    substituted = features.copy()
    substituted[0, records] = model.reference[records]
    expected = pd[0] - model.predict_pd(substituted)[0]
    assert math.isclose(increase[2, 0], expected, abs_tol=1e-12)
    [reasons] = top_reasons(model.predict_pd, features, pd, model.reference)
    assert [r.code for r in reasons] == sorted(
        (r.code for r in reasons), key=lambda code: -increase[_group_index(code), 0]
    )


def _group_index(code: str) -> int:
    return [reason.code for reason in REASON_CATALOG.values()].index(code)


def test_one_bad_record_does_not_fail_the_batch(
    model: LoadedModel, policy: Policy, make_application: ApplicationFactory
) -> None:
    def broken_pd(features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        pd = model.predict_pd(features)
        pd[1] = np.nan
        return pd

    class BrokenModel:
        def __init__(self) -> None:
            self.model_version = model.model_version
            self.reference = model.reference
            self.predict_pd = broken_pd

    apps = [make_application(application_id=f"a{i}") for i in range(3)]
    outcomes = score_batch(apps, BrokenModel(), policy)  # type: ignore[arg-type]  # duck-typed stub
    assert [type(o) for o in outcomes] == [ScoreResult, ScoreError, ScoreResult]
    error = outcomes[1]
    assert isinstance(error, ScoreError)
    assert error.application_id == "a1"
    assert error.error_type == "InvalidProbability"


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
