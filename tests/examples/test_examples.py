"""Every Python example in examples/ run as a user runs it, against a real broker and a real
`loan-scorer run`: an upstream system emits, the scorer decides, the CRM reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from consumer.kafka.schema_registry import register_contracts
from schemas.decode import decode_loan_scored
from schemas.wire import HEADER_INPUT_SCHEMA_VERSION
from tests.conftest import TopicFactory
from tests.examples.example_modules import EXAMPLES
from tests.integration.scorer_harness import make_topics, scorer_settings
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import consume

pytestmark = [pytest.mark.integration]

# Each Python example and the test that runs it; a new example without a run here fails below.
RUN_HERE = {"emit_application.py", "crm_consumer.py"}
VALID = EXAMPLES / "application.v1.json"
INVALID = EXAMPLES / "application.v1.invalid.json"
SENT = re.compile(r"sent b'([^']+)' event (\S+) to ")
TRACE = re.compile(r"event (\S+) to \S+ trace ([0-9a-f]{32})$", re.MULTILINE)


def test_every_python_example_is_run_by_this_module() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == RUN_HERE


def _run(script: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # the example as a user runs it: its own interpreter process
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_emit_score_and_read_as_a_crm(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    topics = make_topics(create_topic, partitions=2)
    scorer = ScorerProcess(kafka_bootstrap, topics, group_id, model_dir, tmp_path / "scorer.log")
    scorer.start()
    try:
        scorer.wait_ready()
        bootstrap = ["--bootstrap-servers", kafka_bootstrap, "--topic", topics.input]
        # The valid event twice with the same event_id (a retrying producer), the invalid one,
        # then a re-submission of the valid application as a new event.
        first = _run("emit_application.py", *bootstrap, str(VALID), str(VALID), str(INVALID))
        resubmitted = _run("emit_application.py", *bootstrap, "--new-event", str(VALID))
        (latest_event_id,) = [event for _key, event in SENT.findall(resubmitted.stdout)]
        assert len(SENT.findall(first.stdout)) == 3
        # Each event started a trace of its own, continued by the scorer and then the CRM.
        sent = TRACE.findall(first.stdout + resubmitted.stdout)
        assert len({trace_id for _event, trace_id in sent}) == 4, first.stdout

        # The scorer has decided once it published the dead letter and at least the two
        # distinct events' scores (the same event sent twice may be scored twice).
        consume(kafka_bootstrap, topics.dlq, expected=1, group_id=f"{group_id}-dlq", timeout_s=60)
        scores = consume(
            kafka_bootstrap, topics.output, expected=2, group_id=f"{group_id}-out", timeout_s=60
        )
        crm = _run(
            "crm_consumer.py",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--group-id",
            f"{group_id}-crm",
            "--scores-topic",
            topics.output,
            "--dead-letter-topic",
            topics.dlq,
            "--idle-exit-s",
            "5",
        )
        view = json.loads(crm.stdout)
    finally:
        scorer.kill()

    assert list(view["decisions"]) == ["example-0001"], view
    decision = view["decisions"]["example-0001"]
    assert decision["source_event_id"] == latest_event_id, "the latest submission's decision wins"
    assert decision["decision"] in {"approve", "review", "decline"}
    assert decision["trace_id"] == sent[3][1], "the latest submission's trace, continued"
    source_events = {str(decode_loan_scored(r.value).source_event_id) for r in scores}
    assert len(source_events) == 2
    assert view["duplicates_ignored"] == len(scores) - len(source_events)
    assert view["never_scored"]["example-0002"]["reason"] == "schema_violation"
    assert "occurred_at" in view["never_scored"]["example-0002"]["message"]
    assert view["never_scored"]["example-0002"]["trace_id"] == sent[2][1]  # the invalid one's


def test_registry_variant_both_upstreams_scored_and_the_crm_decodes_by_schema_id(
    kafka_bootstrap: str,
    schema_registry_url: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    """The same emitter, once with the registry's JSONSerializer and once sending plain JSON, to
    a scorer that writes through the registry; the CRM decodes with JSONDeserializer."""
    topics = make_topics(create_topic, partitions=2)
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    settings = scorer_settings(
        kafka_bootstrap, topics, group_id, model_dir, schema_registry_url=schema_registry_url
    )
    register_contracts(client, settings)  # `loan-scorer schemas register`, before any producer
    scorer = ScorerProcess(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        tmp_path / "scorer.log",
        LOAN_SCORER_SCHEMA_REGISTRY_URL=schema_registry_url,
    )
    scorer.start()
    try:
        scorer.wait_ready()
        bootstrap = ["--bootstrap-servers", kafka_bootstrap, "--topic", topics.input]
        registry = ["--schema-registry-url", schema_registry_url]
        emit_args = [*bootstrap, *registry]
        framed = _run("emit_application.py", *bootstrap, *registry, "--new-event", str(VALID))
        refused = subprocess.run(  # the registered contract refuses the invalid event
            [sys.executable, str(EXAMPLES / "emit_application.py"), *emit_args, str(INVALID)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        plain = _run("emit_application.py", *bootstrap, "--new-event", str(VALID))
        sent = [event for out in (framed, plain) for _key, event in SENT.findall(out.stdout)]
        scores = consume(
            kafka_bootstrap, topics.output, expected=2, group_id=f"{group_id}-out", timeout_s=60
        )
        crm = _run(
            "crm_consumer.py",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--group-id",
            f"{group_id}-crm",
            "--scores-topic",
            topics.output,
            "--dead-letter-topic",
            topics.dlq,
            "--idle-exit-s",
            "5",
            *registry,
        )
        view = json.loads(crm.stdout)
    finally:
        scorer.kill()

    assert refused.returncode == 1
    assert "refused by the registered contract" in refused.stderr
    assert len(sent) == 2
    assert {
        str(decode_loan_scored(r.value[5:] if r.value else b"").source_event_id) for r in scores
    } == set(sent)
    headers = [dict(r.headers) for r in scores]
    assert sorted(HEADER_INPUT_SCHEMA_VERSION in h for h in headers) == [False, True]
    score_id = client.get_latest_version(f"{topics.output}-value").schema_id
    assert view["schema_ids"] == [score_id]
    decision = view["decisions"]["example-0001"]
    assert decision["source_event_id"] == sent[1], "the latest submission's decision wins"
    assert view["never_scored"] == {}
