"""`/readyz` of a real `loan-scorer run` whose input topic does not exist yet: not ready, saying
why, then ready once the topic is created (the consumer alone would wait without any error)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.conftest import TopicFactory
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess

pytestmark = [pytest.mark.integration]


def _wait_for_reason(scorer: ScorerProcess, reason: str, timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = scorer.readyz()
        if reason in answer.json()["reasons"] or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def test_a_missing_input_topic_makes_the_scorer_unready_until_it_exists(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    create_topic: TopicFactory,
    unique_name: Callable[[str], str],
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    missing = unique_name("not-yet")
    topics = ScorerTopics(input=missing, output=create_topic("out"), dlq=create_topic("dlq"))
    scorer = ScorerProcess(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        tmp_path / "scorer.log",
        LOAN_SCORER_READINESS_TOPIC_CHECK_INTERVAL_S="0.5",
    )
    scorer.start()
    try:
        reason = f"input topic {missing!r} does not exist"
        answer = _wait_for_reason(scorer, reason, timeout_s=60)
        assert answer.status_code == 503, scorer.logs()
        assert reason in answer.json()["reasons"], (answer.json(), scorer.logs())
        assert answer.json()["model_loaded"] is True

        kafka_admin.create_topics([NewTopic(missing, num_partitions=1, replication_factor=1)])[
            missing
        ].result(timeout=60)
        scorer.wait_ready(timeout_s=60)
        code, _took = scorer.terminate(timeout_s=30)
        assert code == 0, scorer.logs()
    finally:
        scorer.kill()
        kafka_admin.delete_topics([missing])


def test_a_replica_left_without_a_partition_turns_unready_saying_so(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    """Two scorers, one input partition: the group gives it to one of them; the other, idle past
    the bound, says so on /readyz, while the owner stays ready."""
    topics = ScorerTopics(
        input=create_topic("in", partitions=1), output=create_topic("out"), dlq=create_topic("dlq")
    )
    scorers = [
        ScorerProcess(
            kafka_bootstrap,
            topics,
            group_id,
            model_dir,
            tmp_path / f"scorer-{n}.log",
            LOAN_SCORER_INSTANCE_ID=f"{group_id}-{n}",
            LOAN_SCORER_READINESS_ASSIGNMENT_TIMEOUT_S="3",
        )
        for n in range(2)
    ]
    for scorer in scorers:
        scorer.start()
    try:
        deadline = time.monotonic() + 90
        while True:
            answers = [scorer.readyz().json() for scorer in scorers]
            partitions = sorted(answer["assigned_partitions"] for answer in answers)
            idle = [a for a in answers if any("no partition assigned" in r for r in a["reasons"])]
            if (partitions == [0, 1] and len(idle) == 1) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        logs = "\n".join(scorer.logs() for scorer in scorers)
        assert partitions == [0, 1], (answers, logs)
        (owner,) = [a for a in answers if a["assigned_partitions"] == 1]
        assert owner["ready"] is True, answers
        assert len(idle) == 1, answers
        assert idle[0]["ready"] is False
        assert idle[0]["assigned_partitions"] == 0
    finally:
        for scorer in scorers:
            scorer.kill()
