"""`LoanScored` v1: the audit record's constraints, the helper that builds it, and its encoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.decode import decode_loan_scored
from schemas.encode import encode_loan_scored
from schemas.errors import SchemaViolationError, UnsupportedVersionError
from schemas.examples import example_application_event, example_loan_scored
from schemas.score_v1 import Decision, LoanScored, ModelRole, Reason, RiskGrade

_REASON = Reason(code="HIGH_DEBT", feature="debt", description="Debt is high for the income")


def test_the_helper_copies_ids_from_the_source_and_makes_a_new_event_id() -> None:
    application = example_application_event()
    first = example_loan_scored(event_id=None)
    second = example_loan_scored(event_id=None)
    assert first.source_event_id == application.event_id
    assert first.application_id == application.application_id
    assert first.event_id != application.event_id
    assert first.event_id != second.event_id
    assert first.event_type == "loan_application.scored"
    assert first.schema_version == "1.2"


def test_the_helper_coerces_what_the_strict_model_would_refuse() -> None:
    event = example_loan_scored(
        probability_of_default=np.float32(0.25),
        risk_grade="C",
        decision="review",
        reasons=[{"code": "LOAN_ABOVE_PRICE", "feature": "amount", "description": "Loan > price"}],
        scored_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    assert event.probability_of_default == 0.25
    assert event.risk_grade is RiskGrade.C
    assert event.decision is Decision.REVIEW
    assert event.reasons[0].code == "LOAN_ABOVE_PRICE"
    assert event.scored_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert event.scored_at.utcoffset() == timedelta(0)


def test_scored_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    event = example_loan_scored(scored_at=None)
    assert before <= event.scored_at <= datetime.now(UTC)


@pytest.mark.parametrize("probability", [0.0, 1e-9, 0.5, 1.0])
def test_probabilities_in_0_1_are_accepted(probability: float) -> None:
    assert (
        example_loan_scored(probability_of_default=probability).probability_of_default
        == probability
    )


@pytest.mark.parametrize("probability", [-0.01, 1.0001, float("nan"), float("inf")])
def test_probabilities_outside_0_1_are_refused(probability: float) -> None:
    with pytest.raises(ValidationError, match="probability_of_default"):
        example_loan_scored(probability_of_default=probability)


@pytest.mark.parametrize("decision", [Decision.REVIEW, Decision.DECLINE])
def test_an_adverse_decision_needs_a_reason(decision: Decision) -> None:
    with pytest.raises(ValidationError, match="at least one reason"):
        example_loan_scored(decision=decision, reasons=[])
    assert example_loan_scored(decision=decision, reasons=[_REASON]).reasons == (_REASON,)


def test_an_approval_may_have_no_reasons() -> None:
    assert example_loan_scored(decision=Decision.APPROVE, reasons=[]).reasons == ()


def test_reasons_keep_their_order_and_must_be_unique() -> None:
    other = Reason(code="LOW_INCOME", feature="monthly_income", description="Income is low")
    assert example_loan_scored(reasons=[other, _REASON]).reasons == (other, _REASON)
    with pytest.raises(ValidationError, match="unique"):
        example_loan_scored(reasons=[_REASON, _REASON])


def test_at_most_16_reasons() -> None:
    reasons = [Reason(code=f"R_{i}", feature="f", description="d") for i in range(17)]
    with pytest.raises(ValidationError, match="reasons"):
        example_loan_scored(reasons=reasons)
    assert len(example_loan_scored(reasons=reasons[:16]).reasons) == 16


@pytest.mark.parametrize("code", ["HIGH_DEBT", "KO_LOAN_ABOVE_PRICE", "R2"])
def test_reason_codes_are_upper_snake_case(code: str) -> None:
    assert Reason(code=code, feature="f", description="d").code == code


@pytest.mark.parametrize("code", ["", "X", "high_debt", "HIGH-DEBT", "1_HIGH", "HIGH DEBT"])
def test_other_reason_codes_are_refused(code: str) -> None:
    with pytest.raises(ValidationError, match="code"):
        Reason(code=code, feature="f", description="d")


@pytest.mark.parametrize("field", ["feature", "description"])
def test_reason_text_must_not_be_empty(field: str) -> None:
    values = {"code": "HIGH_DEBT", "feature": "debt", "description": "d", field: ""}
    with pytest.raises(ValidationError, match=field):
        Reason(**values)


@pytest.mark.parametrize("field", ["model_version", "policy_version"])
def test_versions_must_be_named(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        example_loan_scored(**{field: ""})


def test_scored_at_must_be_utc_when_decoded() -> None:
    raw = encode_loan_scored(example_loan_scored()).replace(b'01Z"', b'01+02:00"')
    with pytest.raises(SchemaViolationError, match="scored_at: Input should be in UTC"):
        decode_loan_scored(raw)


def test_a_naive_scored_at_is_refused() -> None:
    with pytest.raises(ValidationError, match="scored_at"):
        example_loan_scored(scored_at=datetime(2024, 5, 1, 12, 0))  # the point


def test_the_encoding_is_compact_json_with_utc_z_and_field_order_of_the_contract() -> None:
    raw = encode_loan_scored(example_loan_scored())
    document: dict[str, Any] = orjson.loads(raw)
    assert list(document) == [
        "event_id",
        "event_type",
        "schema_version",
        "source_event_id",
        "application_id",
        "model_version",
        "policy_version",
        "probability_of_default",
        "risk_grade",
        "decision",
        "reasons",
        "scored_at",
        "out_of_range_fields",
        "model_role",
    ]
    assert document["model_role"] is None
    assert document["scored_at"] == "2024-05-01T10:00:01Z"
    assert document["out_of_range_fields"] == []
    assert document["reasons"] == [
        {
            "code": "LOW_INCOME",
            "feature": "monthly_income",
            "description": "Monthly income is low for the amount requested",
        }
    ]
    assert UUID(document["event_id"]) == example_loan_scored().event_id


@given(
    st.floats(0, 1),
    st.sampled_from(list(RiskGrade)),
    st.sampled_from(list(Decision)),
    st.datetimes(timezones=st.just(UTC)),
)
def test_any_valid_score_round_trips_through_bytes(
    probability: float, grade: RiskGrade, decision: Decision, scored_at: datetime
) -> None:
    event = example_loan_scored(
        probability_of_default=probability,
        risk_grade=grade,
        decision=decision,
        scored_at=scored_at,
    )
    assert decode_loan_scored(encode_loan_scored(event)) == event


def test_a_scored_event_of_another_major_version_is_unsupported() -> None:
    raw = encode_loan_scored(example_loan_scored()).replace(b'"1.2"', b'"2.0"')
    with pytest.raises(UnsupportedVersionError):
        decode_loan_scored(raw)


def test_the_event_is_immutable() -> None:
    event: LoanScored = example_loan_scored()
    with pytest.raises(ValidationError):
        event.decision = Decision.DECLINE  # type: ignore[misc]  # what the test is about


def test_a_1_0_event_without_the_range_field_still_decodes_as_in_range() -> None:
    document = orjson.loads(encode_loan_scored(example_loan_scored()))
    document["schema_version"] = "1.0"
    del document["out_of_range_fields"]
    assert decode_loan_scored(orjson.dumps(document)).out_of_range_fields == ()


def test_out_of_range_fields_name_contract_fields() -> None:
    scored = example_loan_scored(out_of_range_fields=["finances.monthly_income"])
    assert scored.out_of_range_fields == ("finances.monthly_income",)
    with pytest.raises(ValidationError, match="out_of_range_fields"):
        example_loan_scored(out_of_range_fields=["Monthly Income 2100"])


def test_a_1_1_event_without_a_role_decodes_with_none_read_as_champion() -> None:
    document = orjson.loads(encode_loan_scored(example_loan_scored()))
    document["schema_version"] = "1.1"
    del document["model_role"]
    assert decode_loan_scored(orjson.dumps(document)).model_role is None


@pytest.mark.parametrize("role", ["champion", "canary", "shadow"])
def test_each_role_round_trips_through_bytes(role: str) -> None:
    event = example_loan_scored(model_role=role)
    assert event.model_role == ModelRole(role)
    assert orjson.loads(encode_loan_scored(event))["model_role"] == role
    assert decode_loan_scored(encode_loan_scored(event)) == event


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="referee"):
        example_loan_scored(model_role="referee")
