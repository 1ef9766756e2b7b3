"""Faults no wait fixes end in a 503 naming the cause, then a clean exit 1 (issue 23): a real
`loan-scorer run` on the real broker, with short bounds so the test does not wait ten minutes.

- a deleted output topic (the scorer's producer is told not to have it auto-created, as a
  production broker with `auto.create.topics.enable=false` would not create it);
- a restore that cannot finish: the scored-ids changelog exists with a partition count that does
  not match the input's, so every restore attempt is refused (a changelog made by hand, or an
  input topic whose partitions were added).
An ACL refusal on the output topic and a restore refused by the changelog's ACLs need a broker
that enforces ACLs, which the session broker does not: tests/integration/test_acl_bounds.py
starts one."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import produce

# The scorer's start-up (imports on two loaded cores) alone took up to three minutes.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

BOUNDS = {
    "LOAN_SCORER_RETRY_UNREADY_AFTER_S": "5",
    # A deleted output topic fails a batch about every 12 s (each commit waits out the
    # transaction): stalled at the second failure, exit at the third, ~24 s after the first.
    "LOAN_SCORER_RETRY_EXIT_AFTER_S": "20",
    "LOAN_SCORER_KAFKA_EXTRA_CONFIG": json.dumps({"allow.auto.create.topics": False}),
    # A scorer that does not exit in time dumps every thread's stack on SIGABRT (into its log).
    "PYTHONFAULTHANDLER": "1",
}


def _wait_for_reason(scorer: ScorerProcess, part: str, timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = scorer.readyz()
        if any(part in reason for reason in answer.json()["reasons"]):
            return answer
        assert time.monotonic() < deadline, (answer.json(), scorer.logs())
        assert scorer.process is not None
        assert scorer.process.poll() is None, f"exited before saying why:\n{scorer.logs()}"
        time.sleep(0.5)


def _exit_code(scorer: ScorerProcess, timeout_s: float) -> int:
    assert scorer.process is not None
    try:
        return scorer.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        scorer.process.send_signal(signal.SIGABRT)  # where it hangs, for the message below
        scorer.process.wait(10)
        raise AssertionError(f"no exit within {timeout_s} s:\n{scorer.logs()}") from None


def _events(count: int) -> list[tuple[bytes, bytes]]:
    return [(event.key, event.value) for event in demo_events(count)]


def test_a_deleted_output_topic_ends_in_a_503_naming_it_then_exit_1(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    topics = ScorerTopics(
        input=create_topic("in"), output=create_topic("out"), dlq=create_topic("dlq")
    )
    scorer = ScorerProcess(
        kafka_bootstrap, topics, group_id, model_dir, tmp_path / "scorer.log", **BOUNDS
    )
    scorer.start()
    try:
        scorer.wait_ready(timeout_s=90)
        kafka_admin.delete_topics([topics.output])[topics.output].result(timeout=60)
        produce(kafka_bootstrap, topics.input, _events(5))

        answer = _wait_for_reason(scorer, "batch failing for", timeout_s=120)
        assert answer.status_code == 503
        [reason] = [r for r in answer.json()["reasons"] if "batch failing for" in r]
        assert topics.output in reason, reason
        assert answer.json()["last_error"] == reason
        time.sleep(3)  # past three statistics intervals (1 s here): still 503, still the cause
        again = scorer.readyz()
        assert again.status_code == 503
        assert any("batch failing for" in r for r in again.json()["reasons"]), again.json()

        assert _exit_code(scorer, timeout_s=120) == 1, scorer.logs()
        last = [line for line in scorer.logs().splitlines() if "cannot go on safely" in line]
        assert len(last) == 1, scorer.logs()
        assert "batch failing for" in last[0]
        assert topics.output in last[0]
    finally:
        scorer.kill()


def test_a_restore_that_cannot_finish_ends_in_a_503_naming_it_then_exit_1(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    create_topic: TopicFactory,
    unique_name: Callable[[str], str],
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    topics = ScorerTopics(
        input=create_topic("in"), output=create_topic("out"), dlq=create_topic("dlq")
    )
    changelog = unique_name("ids")
    kafka_admin.create_topics([NewTopic(changelog, num_partitions=2, replication_factor=1)])[
        changelog
    ].result(timeout=60)
    scorer = ScorerProcess(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        tmp_path / "scorer.log",
        LOAN_SCORER_DEDUP_TOPIC=changelog,
        **BOUNDS,
    )
    scorer.start()
    try:
        answer = _wait_for_reason(scorer, "restore failing for", timeout_s=180)
        assert answer.status_code == 503
        [reason] = [r for r in answer.json()["reasons"] if "restore failing for" in r]
        assert changelog in reason, reason
        assert "2 partitions" in reason, reason

        assert _exit_code(scorer, timeout_s=120) == 1, scorer.logs()
        last = [line for line in scorer.logs().splitlines() if "cannot go on safely" in line]
        assert len(last) == 1, scorer.logs()
        assert "restore failing for" in last[0]
    finally:
        scorer.kill()
        kafka_admin.delete_topics([changelog])
