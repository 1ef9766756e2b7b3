"""Records of the joiner's four streams as store rows: roles, groups as bands, skipped records."""

from __future__ import annotations

import orjson

from consumer.outcomes.join import (
    JoinRecord,
    application_row,
    outcome_row,
    score_row,
    store_batch,
)
from consumer.tools.demo_events import OUTCOME_SOURCE, demo_outcomes
from schemas.encode import encode_application, encode_loan_outcome, encode_loan_scored
from schemas.examples import example_application, example_application_event, example_loan_scored
from schemas.outcome_v1 import loan_outcome_for
from schemas.score_v1 import Reason
from training.dataset import iter_applications


def test_a_score_without_a_role_on_the_output_topic_is_the_champions() -> None:
    assert score_row(encode_loan_scored(example_loan_scored()), shadow_topic=False).role == (
        "champion"
    )
    canary = encode_loan_scored(example_loan_scored(model_role="canary"))
    assert score_row(canary, shadow_topic=False).role == "canary"


def test_on_the_shadow_topic_the_role_is_shadow_whatever_the_record_says() -> None:
    raw = encode_loan_scored(example_loan_scored(model_role="champion"))
    assert score_row(raw, shadow_topic=True).role == "shadow"


def test_only_knock_out_codes_are_kept() -> None:
    scored = example_loan_scored(
        decision="decline",
        risk_grade="E",
        reasons=[
            Reason(code="KO01_LOAN_ABOVE_PRICE", feature="amount", description="x"),
            Reason(code="LOW_INCOME", feature="income", description="y"),
        ],
    )
    row = score_row(encode_loan_scored(scored), shadow_topic=False)
    assert (row.knock_outs, row.decision, row.grade) == ("KO01_LOAN_ABOVE_PRICE", "decline", "E")


def test_an_application_row_keeps_the_age_band_never_the_age() -> None:
    raw = orjson.dumps(example_application(applicant={"age": 37}, loan={"amount": 1234.0}))
    row = application_row(raw)
    assert (row.age_band, row.exposure, row.marital_status) == ("35-44", 1234.0, "married")
    assert "37" not in repr(row)


def test_an_outcome_row_is_in_utc() -> None:
    row = outcome_row(encode_loan_outcome(loan_outcome_for("a1", defaulted=True, source="s")))
    assert row.defaulted is True
    assert row.observed_at.endswith("+00:00")


def test_a_batch_skips_what_does_not_decode_but_moves_past_it() -> None:
    good = encode_application(example_application_event())
    records = [
        JoinRecord("applications", "apps", 0, 5, good),
        JoinRecord("applications", "apps", 0, 6, b"{not json"),
        JoinRecord("outcomes", "outs", 2, 40, b""),
        JoinRecord("scores", "scores", 1, 3, encode_loan_scored(example_loan_scored())),
    ]
    batch, invalid = store_batch(records)
    assert len(batch.applications) == 1
    assert len(batch.scores) == 1
    assert batch.outcomes == []
    assert dict(invalid) == {"applications": 1, "outcomes": 1}
    assert dict(batch.next_offsets) == {("apps", 0): 7, ("outs", 2): 41, ("scores", 1): 4}


def test_the_replayed_outcomes_are_the_data_sets_labels() -> None:
    expected = [(app.application_id, label == 1) for app, label in iter_applications()][:300]
    replayed = [orjson.loads(event.value) for event in demo_outcomes(300)]
    assert [(o["application_id"], o["defaulted"]) for o in replayed] == expected
    assert {o["source"] for o in replayed} == {OUTCOME_SOURCE}
    assert any(defaulted for _, defaulted in expected)
    assert not all(defaulted for _, defaulted in expected)
