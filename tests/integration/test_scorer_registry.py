"""The scorer with a schema registry, against the real registry and the real broker: an upstream
producer using the registry's `JSONSerializer` and one sending plain JSON are both scored; the
scores are in the registry's wire format and decode by the schema fetched by their id; an input
whose schema id the registry does not hold for the input subject is dead-lettered
`unknown_schema`, untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from typer.testing import CliRunner

from consumer.cli import app
from consumer.config.settings import Settings
from consumer.kafka.schema_registry import ContractNotRegisteredError, register_contracts
from consumer.runtime.wire_format import registry_wire_format
from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from schemas.errors import DeadLetterReason
from schemas.wire import HEADER_INPUT_SCHEMA_ID, HEADER_INPUT_SCHEMA_VERSION, frame
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import make_topics, running_scorer, scorer_settings
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

UNKNOWN_ID = 2_000_000_000


def registered_contracts(
    registry_url: str, settings: Settings
) -> tuple[SchemaRegistryClient, Callable[[bytes], bytes]]:
    """Registers the scorer's contracts under the test's topics; returns the registry client and
    the upstream team's producer side: an application's JSON in the registry's wire format, by
    the input contract's latest registered version, never registering one itself."""
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    register_contracts(client, settings)
    input_schema = client.get_latest_version(f"{settings.input_topic}-value")
    serializer = JSONSerializer(
        str(input_schema.schema.schema_str),
        client,
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    context = SerializationContext(settings.input_topic, MessageField.VALUE)

    def upstream(value: bytes) -> bytes:
        framed: bytes | None = serializer(json.loads(value), context)
        assert framed is not None
        return framed

    return client, upstream


def test_framed_and_plain_inputs_are_scored_and_unknown_schema_ids_dead_lettered(
    kafka_bootstrap: str,
    schema_registry_url: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
) -> None:
    topics = make_topics(create_topic, partitions=2)
    settings = scorer_settings(
        kafka_bootstrap, topics, group_id, model_dir, schema_registry_url=schema_registry_url
    )
    client, upstream = registered_contracts(schema_registry_url, settings)
    input_schema = client.get_latest_version(f"{topics.input}-value")
    score_schema = client.get_latest_version(f"{topics.output}-value")

    events = list(demo_events(40))
    framed_events, plain_events = events[:20], events[20:38]
    unknown_id, other_subject = events[38], events[39]
    framed = [(e.key, upstream(e.value)) for e in framed_events]
    assert all(value[:1] == b"\x00" for _key, value in framed)
    produce(kafka_bootstrap, topics.input, framed)
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in plain_events))
    strays = {
        unknown_id.key: frame(UNKNOWN_ID, unknown_id.value),
        other_subject.key: frame(int(score_schema.schema_id or 0), other_subject.value),
    }
    produce(kafka_bootstrap, topics.input, strays.items())

    with running_scorer(settings) as scorer:
        scores = consume(kafka_bootstrap, topics.output, expected=38, group_id=group_id + "-r")
        dead = consume(kafka_bootstrap, topics.dlq, expected=2, group_id=group_id + "-d")
        assert scorer.counter("loan_scorer_dead_letters_total", reason="unknown_schema") == 2

    # Every score: in the wire format, with LoanScored's registered id, decoded by the CRM's
    # JSONDeserializer with the schema it fetches by that id.
    deserializer = JSONDeserializer(None, schema_registry_client=client)
    out_context = SerializationContext(topics.output, MessageField.VALUE)
    by_application: dict[str, dict[str, bytes]] = {}
    for record in scores:
        assert record.value is not None
        assert record.value[0] == 0
        assert int.from_bytes(record.value[1:5], "big") == score_schema.schema_id
        decoded = deserializer(record.value, out_context)
        assert decoded == json.loads(record.value[5:])
        assert decode_loan_scored(record.value[5:]).application_id == decoded["application_id"]
        by_application[decoded["application_id"]] = dict(record.headers)
    assert set(by_application) == {e.key.decode() for e in framed_events + plain_events}

    # Which contract version each input was written with rides on its score.
    for event in framed_events:
        assert by_application[event.key.decode()] == {
            HEADER_INPUT_SCHEMA_ID: str(input_schema.schema_id).encode(),
            HEADER_INPUT_SCHEMA_VERSION: b"1",
        }
    for event in plain_events:
        assert HEADER_INPUT_SCHEMA_ID not in by_application[event.key.decode()]

    assert {record.key for record in dead} == set(strays)
    for record in dead:
        assert record.key is not None
        assert record.value == strays[record.key], "dead letter bytes were altered"
        context_read = parse_dead_letter_headers(list(record.headers))
        assert context_read.reason is DeadLetterReason.UNKNOWN_SCHEMA
    messages = {
        record.key: parse_dead_letter_headers(list(record.headers)).message for record in dead
    }
    assert messages[unknown_id.key] == f"schema id {UNKNOWN_ID} is not in the schema registry"
    assert messages[other_subject.key] == (
        f"schema id {score_schema.schema_id} is not a version of {topics.input}-value"
    )


def test_the_scorer_refuses_to_start_when_its_output_contract_is_not_registered(
    kafka_bootstrap: str,
    schema_registry_url: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
) -> None:
    topics = make_topics(create_topic, partitions=1)
    settings = scorer_settings(
        kafka_bootstrap, topics, group_id, model_dir, schema_registry_url=schema_registry_url
    )
    with pytest.raises(ContractNotRegisteredError, match=f"{topics.output}-value"):
        registry_wire_format(settings)


def test_rescore_reads_a_book_written_in_the_registrys_wire_format(
    kafka_bootstrap: str,
    schema_registry_url: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    """`loan-scorer rescore --from-topic` reads what the stream reads: framed and plain records
    alike (before, every framed record was dead-lettered as invalid JSON)."""
    topics = make_topics(create_topic, partitions=2)
    settings = scorer_settings(
        kafka_bootstrap, topics, group_id, model_dir, schema_registry_url=schema_registry_url
    )
    _client, upstream = registered_contracts(schema_registry_url, settings)
    events = list(demo_events(30))
    framed = [(e.key, upstream(e.value)) for e in events[:20]]
    produce(kafka_bootstrap, topics.input, framed)
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events[20:]))

    out = tmp_path / "rescored.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "rescore",
            *("--from-topic", topics.input, "--to-file", str(out)),
            *("--model-dir", str(model_dir), "--no-progress"),
        ],
        env={
            "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "LOAN_SCORER_SCHEMA_REGISTRY_URL": schema_registry_url,
        },
    )
    assert result.exit_code == 0, result.output
    assert "rescored 30 applications: 30 scored, 0 dead letters" in result.stdout
    scored = [decode_loan_scored(line) for line in out.read_bytes().splitlines()]
    assert sorted(s.application_id for s in scored) == sorted(e.key.decode() for e in events)
