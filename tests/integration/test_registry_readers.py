"""Every reader we ship reads a scores topic switched to a schema registry, against the real
registry and the real broker: plain JSON scores written before the switch, framed scores written
by the scorer's own serializer after it, and records that are neither. `loan-scorer tail` and the
CRM example print each score and a line for each record they cannot read; neither stops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from typer.testing import CliRunner

from consumer.cli import app
from consumer.config.settings import Settings
from consumer.kafka.schema_registry import loan_scored_framing, register_contracts
from schemas.encode import encode_loan_scored
from schemas.examples import example_application_json, example_loan_scored
from schemas.wire import frame
from tests.conftest import TopicFactory
from tests.examples.example_modules import EXAMPLES
from tests.integration.scorer_harness import ScorerTopics, make_topics

pytestmark = pytest.mark.integration

UNKNOWN_ID = 2_000_000_000


def _settings(bootstrap: str, topics: ScorerTopics, registry_url: str) -> Settings:
    return Settings.model_validate(
        {
            "kafka_bootstrap_servers": bootstrap,
            "input_topic": topics.input,
            "output_topic": topics.output,
            "dlq_topic": topics.dlq,
            "outcomes_topic": f"{topics.input}-outcomes",
            "schema_registry_url": registry_url,
        }
    )


def _score(application_id: str, last_digit: str) -> bytes:
    event = json.loads(encode_loan_scored(example_loan_scored()))
    event["application_id"] = application_id
    event["source_event_id"] = f"00000000-0000-4000-8000-00000000000{last_digit}"
    return json.dumps(event).encode()


@pytest.fixture
def mixed_scores_topic(
    kafka_bootstrap: str, schema_registry_url: str, create_topic: TopicFactory
) -> tuple[ScorerTopics, int]:
    """The scores topic of a deployment that switched to the registry: two plain scores, then
    two framed by the scorer's serializer, with three unreadable records among them. Returns the
    topics and LoanScored's registered schema id."""
    topics = make_topics(create_topic, partitions=1)
    settings = _settings(kafka_bootstrap, topics, schema_registry_url)
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    register_contracts(client, settings)
    frame_score = loan_scored_framing(client, topics.output)  # what the scorer writes with
    records = [
        (b"app-plain-1", _score("app-plain-1", "1")),
        (b"app-plain-2", _score("app-plain-2", "2")),
        (b"junk", b"not json at all"),
        (
            b"app-framed-1",
            frame_score(_score("app-framed-1", "a")),
        ),
        (b"stray", frame(UNKNOWN_ID, _score("stray", "f"))),
        (
            b"app-framed-2",
            frame_score(_score("app-framed-2", "b")),
        ),
        (b"an-application", example_application_json()),  # plain JSON, but not a score
    ]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for key, value in records:
        producer.produce(topics.output, key=key, value=value)
    assert producer.flush(30) == 0
    score_id = client.get_latest_version(f"{topics.output}-value").schema_id
    assert score_id is not None
    return topics, int(score_id)


def test_tail_reads_plain_and_framed_scores_and_says_what_it_cannot_read(
    kafka_bootstrap: str, schema_registry_url: str, mixed_scores_topic: tuple[ScorerTopics, int]
) -> None:
    topics, _score_id = mixed_scores_topic
    env = {
        "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LOAN_SCORER_OUTPUT_TOPIC": topics.output,
        "LOAN_SCORER_SCHEMA_REGISTRY_URL": schema_registry_url,
    }
    args = ["tail", "--from-beginning", "--limit", "7", "--idle-exit-s", "30"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 7, lines
    for index, application in [(0, "app-plain-1"), (1, "app-plain-2"), (3, "app-framed-1")]:
        assert lines[index].startswith(application), lines[index]
    assert lines[5].startswith("app-framed-2"), lines[5]
    assert lines[2].startswith("(unreadable score: invalid_json: ")
    assert lines[4] == (
        f"(unreadable score: unknown_schema: schema id {UNKNOWN_ID} is not in the schema registry)"
    )
    assert lines[6].startswith("(unreadable score: unsupported_version: event_type: ")

    as_json = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    printed = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [p.get("application_id", p.get("unreadable")) for p in printed] == [
        "app-plain-1",
        "app-plain-2",
        "invalid_json",
        "app-framed-1",
        "unknown_schema",
        "app-framed-2",
        "unsupported_version",
    ]

    # Without the registry URL the framed scores are still read (the frame's JSON is judged by
    # the same strict decoder); only the schema id goes unchecked.
    unchecked = CliRunner().invoke(app, args, env={**env, "LOAN_SCORER_SCHEMA_REGISTRY_URL": ""})
    assert unchecked.exit_code == 0, unchecked.output
    assert unchecked.stdout.splitlines()[4].startswith("stray")


def _crm(
    bootstrap: str, topics: ScorerTopics, group_id: str, *extra: str
) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(  # the example as a user runs it: its own interpreter process
        [
            sys.executable,
            str(EXAMPLES / "crm_consumer.py"),
            "--bootstrap-servers",
            bootstrap,
            "--group-id",
            group_id,
            "--scores-topic",
            topics.output,
            "--dead-letter-topic",
            topics.dlq,
            "--idle-exit-s",
            "5",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def test_the_crm_example_reads_plain_and_framed_scores_and_skips_what_it_cannot_read(
    kafka_bootstrap: str,
    schema_registry_url: str,
    mixed_scores_topic: tuple[ScorerTopics, int],
    group_id: str,
) -> None:
    topics, score_id = mixed_scores_topic
    code, view, stderr = _crm(
        kafka_bootstrap, topics, f"{group_id}-crm", "--schema-registry-url", schema_registry_url
    )
    assert code == 0, stderr
    assert sorted(view["decisions"]) == [
        "app-framed-1",
        "app-framed-2",
        "app-plain-1",
        "app-plain-2",
    ]
    assert view["schema_ids"] == [score_id]
    assert view["unreadable"] == 3
    where = f"{topics.output}/0@"
    assert (
        f"unreadable score {where}2: neither JSON nor the schema registry's wire format" in stderr
    )
    assert (
        f"unreadable score {where}4: schema id {UNKNOWN_ID} is not in the schema registry" in stderr
    )
    assert f"unreadable score {where}6: not a LoanScored: no 'source_event_id'" in stderr

    # Without --schema-registry-url the plain scores are read and the framed ones named.
    code, view, stderr = _crm(kafka_bootstrap, topics, f"{group_id}-crm-plain")
    assert code == 0, stderr
    assert sorted(view["decisions"]) == ["app-plain-1", "app-plain-2"]
    assert view["unreadable"] == 5
    assert (
        f"unreadable score {where}3: in the schema registry's wire format (schema id {score_id}): "
        "run with --schema-registry-url"
    ) in stderr


def test_the_crm_example_stops_without_committing_when_the_registry_cannot_answer(
    kafka_bootstrap: str, mixed_scores_topic: tuple[ScorerTopics, int], group_id: str
) -> None:
    topics, _score_id = mixed_scores_topic
    nobody = "http://127.0.0.1:9/apis/ccompat/v7"  # the discard port: connection refused
    code, view, stderr = _crm(
        kafka_bootstrap, topics, f"{group_id}-crm", "--schema-registry-url", nobody
    )
    assert code == 1, stderr
    assert f"stopping, {topics.output}/0@3 not read: the schema registry could not be" in stderr
    assert sorted(view["decisions"]) == ["app-plain-1", "app-plain-2"]


def test_validate_reads_a_framed_file_and_looks_its_schema_id_up(
    kafka_bootstrap: str,
    schema_registry_url: str,
    mixed_scores_topic: tuple[ScorerTopics, int],
    tmp_path: Path,
) -> None:
    topics, score_id = mixed_scores_topic
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    input_id = int(client.get_latest_version(f"{topics.input}-value").schema_id or 0)
    files = {
        "input.bin": frame(input_id, example_application_json()),
        "score-id.bin": frame(score_id, example_application_json()),  # not the input subject's
        "plain.json": example_application_json(),
    }
    for name, value in files.items():
        (tmp_path / name).write_bytes(value)
    env = {
        "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LOAN_SCORER_INPUT_TOPIC": topics.input,
        "LOAN_SCORER_SCHEMA_REGISTRY_URL": schema_registry_url,
    }
    result = CliRunner().invoke(app, ["validate", *(str(tmp_path / n) for n in files)], env=env)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(
        f"input.bin: valid (application app-000001; framed, schema id {input_id}, version 1)"
    )
    assert lines[1].endswith(
        f"score-id.bin: invalid: unknown_schema: schema id {score_id} is not a version of "
        f"{topics.input}-value"
    )
    assert lines[2].endswith("plain.json: valid (application app-000001)")
