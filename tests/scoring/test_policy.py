"""The decision policy file: validation at start-up, grades, cut-offs and knock-outs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from scoring.artifact import LoadedModel
from scoring.exceptions import PolicyError
from scoring.features import build_features
from scoring.knockouts import triggered
from scoring.policy import DECISIONS, DEFAULT_POLICY_PATH, Policy, load_policy
from tests.scoring.conftest import ApplicationFactory


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    return raw


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_default_policy_loads(policy: Policy) -> None:
    assert policy.policy_version == "policy-v2"
    assert [rule.code for rule in policy.knock_outs] == [
        "KO01_LOAN_ABOVE_PRICE",
        "KO02_COMMITMENTS_EXCEED_INCOME",
        "KO03_INCOME_MISSING",
        "KO04_AGE_AT_MATURITY",
        "KO05_OUTSIDE_TRAINING_RANGE",
    ]


def test_the_previous_policy_still_loads_and_differs_only_by_the_range_rule() -> None:
    v1 = load_policy(DEFAULT_POLICY_PATH.with_name("policy-v1.yaml"))
    v2 = load_policy()
    assert v1.policy_version == "policy-v1"
    assert (v1.grades, v1.cutoffs) == (v2.grades, v2.cutoffs)
    assert v2.knock_outs[:-1] == v1.knock_outs


def test_grades_at_the_band_edges(policy: Policy) -> None:
    bounds = [band.pd_below for band in policy.grades]
    pd = np.array([0.0, bounds[0] - 1e-9, bounds[0], bounds[1], bounds[2], bounds[3], 1.0])
    assert policy.grade(pd) == ["A", "A", "B", "C", "D", "E", "E"]


def test_cutoffs(policy: Policy) -> None:
    approve, decline = policy.cutoffs.approve_below, policy.cutoffs.decline_at_or_above
    pd = np.array([0.0, approve - 1e-9, approve, decline - 1e-9, decline, 1.0])
    assert [DECISIONS[i] for i in policy.decide(pd)] == [
        "approve",
        "approve",
        "review",
        "review",
        "decline",
        "decline",
    ]


@pytest.mark.parametrize(
    ("code", "changes"),
    [
        ("KO01_LOAN_ABOVE_PRICE", {"loan__amount": 1300.0}),
        ("KO02_COMMITMENTS_EXCEED_INCOME", {"finances__monthly_expenses": 180.0}),
        ("KO03_INCOME_MISSING", {"finances__monthly_income": None}),
        # Nobody in the training data matures past 75, so this case is also out of its range.
        ("KO04_AGE_AT_MATURITY", {"applicant__age": 72, "loan__term_months": 60}),
        ("KO05_OUTSIDE_TRAINING_RANGE", {"finances__monthly_income": 2100.0}),
        ("KO05_OUTSIDE_TRAINING_RANGE", {"loan__term_months": 84}),
    ],
)
def test_each_knock_out_fires_only_on_its_case(
    policy: Policy,
    model: LoadedModel,
    make_application: ApplicationFactory,
    code: str,
    changes: dict[str, Any],
) -> None:
    features = build_features([make_application(), make_application(**changes)])
    fired = {
        rule.code: triggered(rule, features, model.training_range).tolist()
        for rule in policy.knock_outs
    }
    assert fired[code] == [False, True]
    # Age 72 is above the training maximum (68), but age is not a model input, so it makes no
    # score an extrapolation: KO05 stays quiet and only the rule about age at maturity fires.
    assert {other for other, hits in fired.items() if hits[1] and other != code} == set()
    assert not any(hits[0] for hits in fired.values())


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw.update(policy_version="v1"), "policy_version"),
        (lambda raw: raw["grades"].reverse(), "in order"),
        (lambda raw: raw["grades"][1].update(pd_below=0.01), "rise strictly"),
        (lambda raw: raw["grades"][4].update(pd_below=0.9), "reach pd_below 1.0"),
        (lambda raw: raw["cutoffs"].update(approve_below=0.9), "must not exceed"),
        (lambda raw: raw["cutoffs"].update(approve_below=1.5), "approve_below"),
        (lambda raw: raw["knock_outs"][0].update(rule="vibes"), "rule"),
        (lambda raw: raw["knock_outs"][0].update(action="approve"), "action"),
        (lambda raw: raw["knock_outs"][1].update(code="KO01_LOAN_ABOVE_PRICE"), "unique"),
        (lambda raw: raw["knock_outs"][3].pop("limit"), "needs a limit"),
        (lambda raw: raw["knock_outs"][0].update(limit=3), "takes no limit"),
        (lambda raw: raw.update(surprise=1), "surprise"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, raw))


def test_unparseable_yaml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("grades: [unclosed")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(path)
