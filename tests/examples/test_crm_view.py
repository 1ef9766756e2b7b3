"""The CRM example's decisions, without a broker: dedup on source_event_id, latest wins per
application, unknown reason codes shown by their description, dead letters joined."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.encode import encode_loan_scored
from schemas.examples import example_loan_scored
from tests.examples.example_modules import load_example

crm = load_example("crm_consumer")


def _score(**overrides: Any) -> bytes:
    event = json.loads(encode_loan_scored(example_loan_scored()))
    event.update(overrides)
    return json.dumps(event).encode()


def test_a_repeated_source_event_is_applied_once() -> None:
    view = crm.CrmView()
    first = _score(event_id="00000000-0000-4000-8000-000000000001")
    again = _score(event_id="00000000-0000-4000-8000-000000000002", decision="decline")
    assert view.apply_score(first) is not None
    assert view.apply_score(again) is None  # same source_event_id: a duplicate, whatever it says
    assert view.duplicates_ignored == 1
    (decision,) = view.decisions.values()
    assert decision.decision == json.loads(first)["decision"]


def test_the_latest_scored_at_wins_per_application_whatever_the_arrival_order() -> None:
    view = crm.CrmView()
    newer = _score(
        source_event_id="00000000-0000-4000-8000-00000000000a",
        scored_at="2026-11-27T10:00:01.000Z",
        decision="decline",
    )
    older = _score(
        source_event_id="00000000-0000-4000-8000-00000000000b",
        scored_at="2026-11-27T10:00:00.000Z",
        decision="approve",
    )
    view.apply_score(newer)
    view.apply_score(older)
    (decision,) = view.decisions.values()
    assert decision.decision == "decline"


def test_an_unknown_reason_code_is_shown_with_its_description() -> None:
    reasons = [
        {"code": "R99_SOMETHING_NEW", "feature": "x", "description": "A factor added in 1.3"},
        {"code": "KO03_INCOME_MISSING", "feature": "monthly_income", "description": "unused"},
    ]
    view = crm.CrmView()
    decision = view.apply_score(_score(reasons=reasons, new_field_in_1_3={"any": 1}))
    assert decision.reasons == [
        "R99_SOMETHING_NEW: A factor added in 1.3",
        "KO03_INCOME_MISSING: Ask the applicant for proof of income.",
    ]


def test_a_dead_lettered_application_is_never_scored_until_a_score_arrives() -> None:
    view = crm.CrmView()
    headers = {crm.REASON_HEADER: "schema_violation", crm.MESSAGE_HEADER: "loan.term_months: ..."}
    view.apply_dead_letter(b"app-7", headers)
    view.apply_dead_letter(None, {})
    never = view.never_scored()
    assert never["app-7"].reason == "schema_violation"
    assert never["(no key)"].reason == "(no reason header)"
    view.apply_score(_score(application_id="app-7"))
    assert "app-7" not in view.never_scored()


@pytest.mark.parametrize("missing", ["source_event_id", "application_id"])
def test_a_score_without_its_ids_is_an_error_not_a_silent_decision(missing: str) -> None:
    event = json.loads(_score())
    del event[missing]
    view = crm.CrmView()
    with pytest.raises(crm.UnreadableScoreError, match=missing):
        view.apply_score(json.dumps(event).encode())
    assert view.applied_source_events == set(), "nothing of an unreadable score is kept"


@pytest.mark.parametrize(
    "value", [b"\xff\xfe", b"not json", b"[1, 2]", b'{"scored_at": 1}', _score(scored_at="soon")]
)
def test_what_is_not_a_score_is_unreadable(value: bytes) -> None:
    read = crm.score_reader(None, "loan-scores")
    with pytest.raises(crm.UnreadableScoreError):
        crm.CrmView().apply_score_event(read(value)[0])


def test_plain_and_framed_scores_are_told_apart_by_the_first_byte() -> None:
    read = crm.score_reader(None, "loan-scores")
    event, schema_id = read(_score())
    assert (event["source_event_id"], schema_id) == (json.loads(_score())["source_event_id"], None)
    framed = b"\x00" + (7).to_bytes(4, "big") + _score()
    with pytest.raises(crm.UnreadableScoreError, match=r"schema id 7\): run with --schema-regis"):
        read(framed)
    with pytest.raises(crm.UnreadableScoreError, match="magic byte without a schema id"):
        read(b"\x00\x00")


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SCORER_SPAN = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("traceparent", "trace_id"),
    [
        (SCORER_SPAN, TRACE_ID),
        (f" {SCORER_SPAN}\t", TRACE_ID),
        (None, None),
        ("", None),
        (f"00-{TRACE_ID}-0000000000000000-01", None),  # an all-zero span id
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),
        (f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01", None),
        ("00-nope-01", None),
    ],
)
def test_the_crm_reads_the_trace_of_a_valid_traceparent_and_ignores_any_other(
    traceparent: str | None, trace_id: str | None
) -> None:
    assert crm.trace_of(traceparent) == trace_id


def test_the_crm_continues_the_scorers_trace_with_a_span_of_its_own() -> None:
    child = crm.continued(SCORER_SPAN)
    version, trace_id, span_id, flags = child.split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != "00f067aa0ba902b7"
    assert crm.trace_of(child) == TRACE_ID


def test_decisions_and_dead_letters_keep_their_trace_id() -> None:
    view = crm.CrmView()
    decision = view.apply_score_event(json.loads(_score()), TRACE_ID)
    dead = view.apply_dead_letter(b"app-9", {"traceparent": SCORER_SPAN})
    assert decision is not None
    assert decision.trace_id == TRACE_ID
    assert dead.trace_id == TRACE_ID
    assert view.summary()["decisions"][decision.application_id]["trace_id"] == TRACE_ID
