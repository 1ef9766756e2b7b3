"""`loan-scorer rescore` against the real broker: a transactionally written topic in, a topic
out, every input answered once, each score the one `score_batch` gives the same application."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from consumer.cli import app
from consumer.config.settings import Settings
from consumer.runtime.assets import load_assets
from consumer.tools.demo_events import demo_events
from schemas.decode import decode_application, decode_loan_scored
from scoring.scorer import ScoreResult, score_batch
from tests.conftest import TopicFactory
from tests.kafka_io import consume

pytestmark = pytest.mark.integration


def _produce_in_transactions(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]
) -> None:
    """Upstream writes transactionally, so the topic holds commit markers between records (the
    end offset is past the last record): the job must still stop at the end."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-writer"})
    producer.init_transactions(30)
    for start in range(0, len(records), 250):
        producer.begin_transaction()
        for key, value in records[start : start + 250]:
            producer.produce(topic, key=key, value=value)
        producer.commit_transaction(30)


def test_a_topic_is_rescored_into_a_topic(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    source, scores, dead = create_topic("book", 3), create_topic("rescored", 3), create_topic("dlq")
    events = list(demo_events(1_000, broken_every=20))
    _produce_in_transactions(kafka_bootstrap, source, [(e.key, e.value) for e in events])

    result = CliRunner().invoke(
        app,
        [
            "rescore",
            *("--from-topic", source, "--to-topic", scores, "--dead-letters", dead),
            *("--model-dir", str(model_dir), "--no-progress"),
        ],
        env={"LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
    )
    assert result.exit_code == 0, result.output
    assert "rescored 1000 applications: 950 scored, 50 dead letters" in result.stdout

    published = consume(kafka_bootstrap, scores, expected=950, group_id=group_id + "-s")
    dead_letters = consume(kafka_bootstrap, dead, expected=50, group_id=group_id + "-d")
    broken = {e.key: e.value for e in events if e.broken is not None}
    assert sorted(r.key for r in dead_letters if r.key) == sorted(broken)
    assert all(r.value == broken[r.key] for r in dead_letters if r.key)
    assert len(published) == 950

    valid = [decode_application(e.value) for e in events if e.broken is None]
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    expected = dict(
        zip(
            (a.application_id for a in valid),
            score_batch(valid, assets.model, assets.policy),
            strict=True,
        )
    )
    rescored = [decode_loan_scored(record.value) for record in published]
    assert sorted(s.application_id for s in rescored) == sorted(expected)
    for scored in rescored:
        outcome = expected[scored.application_id]
        assert isinstance(outcome, ScoreResult)
        # Another batch (the topic's batches are not these): the same PD, bit for bit.
        assert scored.probability_of_default == outcome.probability_of_default
        assert (scored.risk_grade.value, scored.decision.value, scored.model_version) == (
            outcome.risk_grade,
            outcome.decision,
            outcome.model_version,
        )
        assert [r.code for r in scored.reasons] == [r.code for r in outcome.reasons]


def test_a_missing_topic_is_an_error(kafka_bootstrap: str, model_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "rescore",
            *("--from-topic", "no-such-topic-for-rescore", "--to-file", str(tmp_path / "o.jsonl")),
            *("--model-dir", str(model_dir), "--no-progress"),
        ],
        env={"LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
    )
    assert result.exit_code == 1
    assert "no-such-topic-for-rescore does not exist" in result.stderr
