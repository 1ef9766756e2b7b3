"""The stream's fast `LoanScored` bytes against the validating path they replace.

`loan_scored_json` skips pydantic's validation of the output; these tests hold it to the exact
bytes of `encode_loan_scored(loan_scored_event(...))` on every application of the data set and on
generated results, and show that a result the contract refuses still raises, with its rule.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from consumer.config.settings import Settings
from consumer.pipeline.scored_event import loan_scored_event, loan_scored_json
from consumer.runtime.assets import load_assets
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import decode_loan_scored
from schemas.encode import encode_loan_scored
from schemas.examples import example_application_event
from schemas.score_v1 import ModelRole
from scoring.reasons import CATALOGUE
from scoring.scorer import ScoreResult, score_batch
from training.dataset import load_credit_data

EVENT_ID = "0b7f7c4e-3a52-4c39-9d7e-1f0a6c2b9e11"
AT = datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
REASONS = tuple(rule.reason for rule in CATALOGUE.values())


def _validated_bytes(
    application: LoanApplicationSubmitted, result: ScoreResult, scored_at: datetime
) -> bytes:
    event = loan_scored_event(application, result, scored_at=scored_at)
    return encode_loan_scored(event.model_copy(update={"event_id": UUID(EVENT_ID)}))


def _fast_bytes(
    application: LoanApplicationSubmitted, result: ScoreResult, scored_at: datetime
) -> bytes:
    return loan_scored_json(application, result, scored_at=scored_at, event_id=EVENT_ID)


@pytest.fixture(scope="module")
def scored(model_dir: Path) -> list[tuple[LoanApplicationSubmitted, ScoreResult]]:
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    applications = load_credit_data().applications
    results = score_batch(applications, assets.model, assets.policy)
    pairs = [(a, r) for a, r in zip(applications, results, strict=True)]
    assert all(isinstance(r, ScoreResult) for _, r in pairs)
    return pairs  # type: ignore[return-value]


def test_every_application_of_the_data_set_gets_the_validated_bytes(
    scored: list[tuple[LoanApplicationSubmitted, ScoreResult]],
) -> None:
    decisions = set()
    for application, result in scored:
        assert _fast_bytes(application, result, AT) == _validated_bytes(application, result, AT)
        decisions.add(result.decision)
    assert decisions == {"approve", "review", "decline"}  # every branch of the policy was seen


def test_the_bytes_decode_as_the_contract() -> None:
    application = example_application_event()
    result = _result(decision="decline", reasons=REASONS[:2], out_of_range=("applicant.age",))
    event = decode_loan_scored(_fast_bytes(application, result, AT))
    assert event.source_event_id == application.event_id
    assert event.reasons[0].code == REASONS[0].code
    assert event.out_of_range_fields == ("applicant.age",)


def test_each_event_gets_a_new_version_4_uuid() -> None:
    application = example_application_event()
    ids = [
        orjson.loads(loan_scored_json(application, _result(), scored_at=AT))["event_id"]
        for _ in range(200)
    ]
    assert len(set(ids)) == 200
    pattern = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(pattern.match(event_id) for event_id in ids)


@settings(max_examples=300, deadline=None)
@given(
    pd=st.floats(min_value=0, max_value=1),
    grade=st.sampled_from("ABCDE"),
    decision=st.sampled_from(["approve", "review", "decline"]),
    reasons=st.lists(st.sampled_from(REASONS), unique=True, min_size=1, max_size=5),
    out_of_range=st.lists(
        st.sampled_from(["applicant.age", "finances.monthly_income", "loan.amount"]),
        unique=True,
        max_size=3,
    ),
    micro=st.sampled_from([0, 1, 500_000, 999_999]),
)
def test_generated_results_get_the_validated_bytes(
    pd: float,
    grade: str,
    decision: str,
    reasons: list[object],
    out_of_range: list[str],
    micro: int,
) -> None:
    application = example_application_event()
    result = _result(
        pd=pd,
        grade=grade,
        decision=decision,
        reasons=tuple(reasons),
        out_of_range=tuple(out_of_range),
    )
    at = AT.replace(microsecond=micro)
    assert _fast_bytes(application, result, at) == _validated_bytes(application, result, at)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"probability_of_default": 1.5}, "less_than_equal"),
        ({"probability_of_default": float("nan")}, "finite_number"),
        ({"decision": "decline", "reasons": ()}, "reasons_required"),
        ({"reasons": (REASONS[0], REASONS[0])}, "reasons_unique"),
        ({"model_version": ""}, "string_too_short"),
        ({"out_of_range": ("Age",)}, "string_pattern_mismatch"),
    ],
)
def test_a_result_the_contract_refuses_still_raises_with_its_rule(
    changes: dict[str, object], rule: str
) -> None:
    result = dataclasses.replace(_result(), **changes)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as raised:
        loan_scored_json(example_application_event(), result, scored_at=AT)
    assert rule in {error["type"] for error in raised.value.errors()}


def test_a_scored_at_in_another_zone_is_written_in_utc_as_the_validated_path_does() -> None:
    at = AT.astimezone(timezone(timedelta(hours=2)))
    application, result = example_application_event(), _result()
    fast = _fast_bytes(application, result, at)
    assert fast == _validated_bytes(application, result, at)
    assert b'"scored_at":"2026-11-27T12:30:15.123456Z"' in fast


def _result(
    *,
    pd: float = 0.2,
    grade: str = "C",
    decision: str = "review",
    reasons: tuple[object, ...] = REASONS[:1],
    out_of_range: tuple[str, ...] = (),
) -> ScoreResult:
    return ScoreResult(
        application_id="app-000001",
        probability_of_default=pd,
        risk_grade=grade,  # type: ignore[arg-type]
        decision=decision,  # type: ignore[arg-type]
        reasons=reasons,  # type: ignore[arg-type]
        model_version="credit-lrs-test",
        policy_version="policy-v2",
        out_of_range=out_of_range,
    )


@pytest.mark.parametrize("role", [None, *ModelRole])
def test_each_model_role_gets_the_validated_bytes(role: ModelRole | None) -> None:
    application, result = example_application_event(), _result()
    event = loan_scored_event(application, result, scored_at=AT, model_role=role)
    validated = encode_loan_scored(event.model_copy(update={"event_id": UUID(EVENT_ID)}))
    fast = loan_scored_json(application, result, scored_at=AT, event_id=EVENT_ID, model_role=role)
    assert fast == validated
    assert decode_loan_scored(fast).model_role == role
