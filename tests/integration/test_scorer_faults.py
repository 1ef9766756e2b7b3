"""The scorer as a process under the faults an orchestrator and a broker cause: SIGTERM during a
steady stream, and a broker stopped and started again mid-stream. Nothing lost, nothing doubled."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import DemoEvent, demo_events
from schemas.decode import decode_loan_scored
from tests.conftest import KAFKA_LOCAL, TopicFactory, _free_port
from tests.delivery.tools import missing
from tests.integration.scorer_harness import ScorerTopics, make_topics
from tests.integration.scorer_process import PacedProducer, ScorerProcess
from tests.kafka_io import consume, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHUTDOWN_BOUND_S = 20.0


def _assert_each_valid_event_scored_once(
    bootstrap: str, topic: str, expected_ids: set[str], group_id: str, logs: str = ""
) -> None:
    scores = consume(bootstrap, topic, expected=len(expected_ids), group_id=group_id, timeout_s=120)
    ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
    duplicated = [i for i, n in ids.items() if n > 1]
    missing = expected_ids - set(ids)
    assert not duplicated, f"{len(duplicated)} scored twice, e.g. {duplicated[:3]}\n{logs}"
    assert not missing, f"{len(missing)} never scored, e.g. {sorted(missing)[:3]}\n{logs}"
    assert len(scores) == len(expected_ids)


def test_sigterm_during_a_steady_stream_exits_0_within_the_bound_losing_nothing(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    topics = make_topics(create_topic)
    events = list(demo_events(3_000))
    producer = PacedProducer(kafka_bootstrap, topics.input, events, rate_per_s=1_000)
    scorer = ScorerProcess(kafka_bootstrap, topics, group_id, model_dir, tmp_path / "scorer.log")
    scorer.start()
    try:
        scorer.wait_ready()
        producer.start()
        time.sleep(1.5)  # mid-stream
        code, took = scorer.terminate(timeout_s=SHUTDOWN_BOUND_S + 5)
        assert code == 0, scorer.logs()
        assert took <= SHUTDOWN_BOUND_S
        assert '"stopping"' in scorer.logs()
        producer.join(60)

        successor = ScorerProcess(
            kafka_bootstrap, topics, group_id, model_dir, tmp_path / "successor.log"
        )
        successor.start()
        try:
            _assert_each_valid_event_scored_once(
                kafka_bootstrap, topics.output, {e.key.decode() for e in events}, group_id + "-v"
            )
        finally:
            successor.terminate(timeout_s=SHUTDOWN_BOUND_S + 5)
    finally:
        scorer.kill()


def _create_topics(bootstrap: str, suffix: str, partitions: int) -> ScorerTopics:
    """Topics on a broker of the test's own (the shared fixtures know only the shared broker)."""
    topics = ScorerTopics(f"in.{suffix}", f"out.{suffix}", f"dlq.{suffix}")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics(
        [NewTopic(name, num_partitions=partitions) for name in vars(topics).values()]
    ).values():
        future.result(30)
    return topics


def _assert_all_scored_once_then_clean_exit(
    scorer: ScorerProcess,
    bootstrap: str,
    topics: ScorerTopics,
    events: list[DemoEvent],
    group_id: str,
) -> None:
    """Every event scored exactly once by a scorer that rode out the fault, then SIGTERM: 0."""
    _assert_each_valid_event_scored_once(
        bootstrap, topics.output, {e.key.decode() for e in events}, group_id + "-v", scorer.logs()
    )
    assert scorer.process is not None
    assert scorer.process.poll() is None, f"the scorer died in the fault:\n{scorer.logs()}"
    code, _took = scorer.terminate(timeout_s=SHUTDOWN_BOUND_S + 5)
    assert code == 0, scorer.logs()


@pytest.fixture
def restartable_broker(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A broker of this test's own, which it may stop and start (never the shared one)."""
    if not shutil.which("java"):
        missing("needs Java 17+ to run a broker this test can restart (scripts/kafka-local.sh)")
    port = _free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "KAFKA_LOCAL_STATE": str(tmp_path / "broker"),
    }
    subprocess.run([str(KAFKA_LOCAL), "up"], check=True, env=env)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([str(KAFKA_LOCAL), "down"], check=False, env=env)


# pytest's timeout guards against a hang only: it counts this test's own broker start and a
# controlled restart (30-70 s each on two loaded cores); the waits inside have bounds of their own.
@pytest.mark.timeout(900)
def test_a_broker_stopped_and_started_mid_stream_costs_no_event_and_no_duplicate(
    restartable_broker: tuple[str, dict[str, str]],
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    bootstrap, broker_env = restartable_broker
    topics = _create_topics(bootstrap, "restart", partitions=3)
    events = list(demo_events(2_000))
    producer = PacedProducer(bootstrap, topics.input, events, rate_per_s=400)
    scorer = ScorerProcess(bootstrap, topics, group_id, model_dir, tmp_path / "scorer.log")
    scorer.start()
    try:
        scorer.wait_ready()
        producer.start()
        time.sleep(1.5)
        subprocess.run([str(KAFKA_LOCAL), "restart"], check=True, env=broker_env)
        producer.join(180)
        _assert_all_scored_once_then_clean_exit(scorer, bootstrap, topics, events, group_id)
    finally:
        scorer.kill()


def test_a_broker_down_at_start_is_waited_for_not_ready_and_nothing_is_lost(
    restartable_broker: tuple[str, dict[str, str]],
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    bootstrap, broker_env = restartable_broker
    topics = _create_topics(bootstrap, "late", partitions=2)
    events = list(demo_events(300))
    produce(bootstrap, topics.input, ((e.key, e.value) for e in events))
    subprocess.run([str(KAFKA_LOCAL), "stop"], check=True, env=broker_env)

    scorer = ScorerProcess(bootstrap, topics, group_id, model_dir, tmp_path / "scorer.log")
    scorer.start()
    try:
        scorer.readyz()
        time.sleep(5)  # the model loads; connection attempts keep failing meanwhile
        readyz = scorer.readyz()
        assert readyz.json()["model_loaded"] is True
        assert scorer.process is not None
        assert scorer.process.poll() is None, f"the scorer gave up:\n{scorer.logs()}"
        assert readyz.status_code == 503
        # "connecting to Kafka" until the first sign (a failed init_transactions, a client
        # error), then "not reachable": never ready meanwhile.
        deadline = time.monotonic() + 60
        while "Kafka broker not reachable" not in readyz.json()["reasons"]:
            assert readyz.status_code == 503, readyz.json()
            assert time.monotonic() < deadline, (readyz.json(), scorer.logs())
            time.sleep(0.5)
            readyz = scorer.readyz()

        subprocess.run([str(KAFKA_LOCAL), "start"], check=True, env=broker_env)
        scorer.wait_ready(timeout_s=90)
        _assert_all_scored_once_then_clean_exit(scorer, bootstrap, topics, events, group_id)
    finally:
        scorer.kill()
