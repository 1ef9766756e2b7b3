"""Upstream duplicates through the real stream: 1,000 events sent twice with the same event ids,
the scorer killed with SIGKILL in the middle and restarted, give exactly 1,000 scores."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from schemas.decode import decode_loan_scored
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

EVENTS = 1000


def test_events_resent_with_their_ids_are_scored_once_through_a_kill_9(
    kafka_bootstrap: str, kafka_admin: AdminClient, model_dir: Path, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    group_id = f"dups-{run}"
    topics = ScorerTopics(f"in.dups.{run}", f"out.dups.{run}", f"dlq.dups.{run}")
    for future in kafka_admin.create_topics(
        [NewTopic(name, num_partitions=3) for name in vars(topics).values()]
    ).values():
        future.result(60)
    events = list(demo_events(EVENTS))
    records = [(e.key, e.value) for e in events]
    produce(kafka_bootstrap, topics.input, records)

    first = ScorerProcess(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        tmp_path / "first.log",
        LOAN_SCORER_BATCH_MAX_EVENTS="50",
    )
    first.start()
    try:
        first.wait_ready()
        # The upstream retry: the same ids and keys again, half while this scorer runs...
        produce(kafka_bootstrap, topics.input, records[: EVENTS // 2])
        time.sleep(0.5)
        first.kill()  # SIGKILL, mid-stream
    finally:
        first.kill()

    second = ScorerProcess(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        tmp_path / "second.log",
        LOAN_SCORER_BATCH_MAX_EVENTS="50",
    )
    second.start()
    try:
        second.wait_ready()
        produce(kafka_bootstrap, topics.input, records[EVENTS // 2 :])  # ...half after
        scores = consume(
            kafka_bootstrap,
            topics.output,
            expected=EVENTS,
            group_id=f"{group_id}-v",
            timeout_s=120,
            settle_s=5.0,
        )
        ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
        assert len(scores) == EVENTS, f"{len(scores)} scores\n{second.logs()}"
        assert set(ids) == {e.key.decode() for e in events}
        assert max(ids.values()) == 1
        # The restarted scorer met at least the half sent after the kill.
        assert second.metric("loan_scorer_duplicates_total") >= EVENTS // 2
        # Every id scored, restored from the changelog or scored since, is held (RocksDB's
        # estimate, refreshed every 5 s).
        deadline = time.monotonic() + 15
        while second.metric("loan_scorer_state_ids") < EVENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        assert EVENTS <= second.metric("loan_scorer_state_ids") <= EVENTS * 1.2
    finally:
        second.kill()
