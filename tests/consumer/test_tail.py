"""`loan-scorer tail` against a real broker: a missing topic is an error, lines name the policy
version, `--json` prints what was published."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from confluent_kafka import Producer
from typer.testing import CliRunner

from consumer.cli import app
from schemas.dead_letter import dead_letter_headers
from schemas.encode import encode_loan_scored
from schemas.errors import SchemaViolationError
from schemas.examples import example_loan_scored
from tests.conftest import TopicFactory


def _env(bootstrap: str, **topics: str) -> dict[str, str]:
    return {"LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": bootstrap, **topics}


def _publish(
    bootstrap: str, topic: str, value: bytes, headers: list[tuple[str, str | bytes | None]]
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=b"app-7", value=value, headers=headers)
    assert producer.flush(30) == 0


def test_a_missing_topic_is_a_warning_and_exit_1(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    missing = unique_name("no-scores")
    result = CliRunner().invoke(
        app,
        ["tail", "--limit", "1", "--idle-exit-s", "1"],
        env=_env(kafka_bootstrap, LOAN_SCORER_OUTPUT_TOPIC=missing),
    )
    assert result.exit_code == 1, result.output
    assert f"warning: output topic {missing!r} does not exist" in result.stderr
    assert "records" not in result.stderr


def test_a_score_line_names_model_and_policy_and_json_is_the_published_event(
    kafka_bootstrap: str, create_topic: TopicFactory
) -> None:
    topic = create_topic("scores")
    scored = example_loan_scored(policy_version="policy-v9")
    _publish(kafka_bootstrap, topic, encode_loan_scored(scored), [])
    env = _env(kafka_bootstrap, LOAN_SCORER_OUTPUT_TOPIC=topic)
    args = ["tail", "--from-beginning", "--limit", "1", "--idle-exit-s", "20"]

    line = CliRunner().invoke(app, args, env=env)
    assert line.exit_code == 0, line.output
    assert f"[{scored.model_version} policy-v9]" in line.stdout

    as_json = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    (printed,) = as_json.stdout.splitlines()
    assert json.loads(printed) == json.loads(encode_loan_scored(scored))
    assert as_json.stderr.strip() == "1 record"


def test_dead_letters_as_json_carry_the_reason_but_not_the_value(
    kafka_bootstrap: str, create_topic: TopicFactory
) -> None:
    dlq = create_topic("dlq")
    error = SchemaViolationError("loan.term_months: Input should be a valid integer", ("x",))
    headers = dead_letter_headers(
        error, topic="apps", partition=2, offset=41, failed_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    _publish(kafka_bootstrap, dlq, b'{"secret": "income 2100"}', list(headers))
    result = CliRunner().invoke(
        app,
        ["tail", "--dead-letters", "--from-beginning", "--limit", "1", "--json"],
        env=_env(kafka_bootstrap, LOAN_SCORER_DLQ_TOPIC=dlq),
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["key"] == "app-7"
    assert record["reason"] == "schema_violation"
    assert (record["topic"], record["partition"], record["offset"]) == ("apps", 2, 41)
    assert "2100" not in result.stdout


def test_framed_and_plain_scores_read_alike_and_what_is_neither_says_why() -> None:
    """Without a broker: the line and the JSON of one score are the same framed or plain."""
    from consumer.tools.tail import format_score, score_json
    from schemas.wire import frame

    plain = encode_loan_scored(example_loan_scored(policy_version="policy-v9"))
    framed = frame(41, plain)
    assert format_score(framed) == format_score(plain)
    assert "policy-v9]" in format_score(framed)
    assert json.loads(score_json(framed)) == json.loads(plain)

    for value, reason in [
        (b"\x00\x00\x00", "invalid_json"),  # the magic byte, no whole schema id
        (frame(41, b"not json"), "invalid_json"),
        (frame(41, b'{"event_type": "loan_application.scored"}'), "schema_violation"),
        (None, "invalid_json"),
    ]:
        line = format_score(value)
        assert line.startswith(f"(unreadable score: {reason}: "), line
        assert json.loads(score_json(value))["unreadable"] == reason
