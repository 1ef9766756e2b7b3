"""The scored-id state on disk through the real scorer and broker (issue 22): a restart with its
volume reads only the changelog's tail, after a clean stop and after `kill -9`; without it, the
state is restored from the changelog; either way nothing is scored twice. The same id with other
content is dead-lettered `conflicting_duplicate`."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import HEADER_FIRST_OFFSET, parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from schemas.errors import DeadLetterReason
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

EVENTS = 600


def _topics(kafka_admin: AdminClient, run: str) -> ScorerTopics:
    topics = ScorerTopics(f"in.state.{run}", f"out.state.{run}", f"dlq.state.{run}")
    for future in kafka_admin.create_topics(
        [NewTopic(name, num_partitions=3) for name in vars(topics).values()]
    ).values():
        future.result(60)
    return topics


def _changelog_size(bootstrap: str, topic: str) -> int:
    """Offsets in the changelog (records and transaction markers), every partition: what a
    restore from scratch reads."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"size-{uuid.uuid4()}"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in range(3)
        )
    finally:
        consumer.close()


def _scorer(
    bootstrap: str, topics: ScorerTopics, group_id: str, model_dir: Path, log: Path, state: Path
) -> ScorerProcess:
    return ScorerProcess(
        bootstrap,
        topics,
        group_id,
        model_dir,
        log,
        LOAN_SCORER_BATCH_MAX_EVENTS="50",
        LOAN_SCORER_STATE_DIR=str(state),
    )


@pytest.mark.parametrize(
    ("stop", "keep_state"),
    [("SIGTERM", True), ("SIGKILL", True), ("SIGKILL", False)],
    ids=["restart-with-volume", "kill-9-with-volume", "cold-restore"],
)
def test_resent_events_are_scored_once_across_a_restart(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    model_dir: Path,
    tmp_path: Path,
    stop: str,
    keep_state: bool,
) -> None:
    run = uuid.uuid4().hex[:8]
    group_id = f"state-{run}"
    topics = _topics(kafka_admin, run)
    events = list(demo_events(EVENTS))
    records = [(e.key, e.value) for e in events]
    first_half, second_half = records[: EVENTS // 2], records[EVENTS // 2 :]
    produce(kafka_bootstrap, topics.input, first_half)

    first = _scorer(
        kafka_bootstrap, topics, group_id, model_dir, tmp_path / "first.log", tmp_path / "a"
    )
    first.start()
    try:
        first.wait_ready()
        scored = consume(
            kafka_bootstrap,
            topics.output,
            expected=EVENTS // 2,
            group_id=f"{group_id}-1",
            timeout_s=120,
            settle_s=1.0,
        )
        assert len(scored) == EVENTS // 2, first.logs()
        if stop == "SIGTERM":
            code, _seconds = first.terminate(timeout_s=30)
            assert code == 0, first.logs()
        else:
            first.kill()
    finally:
        first.kill()

    written = _changelog_size(kafka_bootstrap, f"{group_id}-scored-ids-changelog")
    second = _scorer(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        tmp_path / "second.log",
        tmp_path / ("a" if keep_state else "b"),
    )
    second.start()
    try:
        second.wait_ready()
        # The upstream retry of everything already scored, and the events not sent yet.
        produce(kafka_bootstrap, topics.input, first_half + second_half)
        scores = consume(
            kafka_bootstrap,
            topics.output,
            expected=EVENTS,
            group_id=f"{group_id}-2",
            timeout_s=120,
            settle_s=3.0,
        )
        ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
        assert len(scores) == EVENTS, f"{len(scores)} scores\n{second.logs()}"
        assert max(ids.values()) == 1
        assert second.metric("loan_scorer_duplicates_total") == EVENTS // 2
        restored = second.metric("loan_scorer_state_restore_records_total")
        if stop == "SIGTERM":
            # The checkpoint at the clean stop reached the end: at most a commit marker a
            # partition is read again.
            assert restored <= 3, second.log_file.read_text()
        elif keep_state:
            # kill -9: the tail since the last checkpoint (a second of batches at most), never
            # the whole changelog.
            assert restored < written, second.log_file.read_text()
        else:
            assert restored >= written, second.log_file.read_text()  # all the first one wrote
            assert "restoring state" in second.log_file.read_text()
    finally:
        second.kill()


def test_the_same_id_with_other_content_is_dead_lettered_as_a_conflict(
    kafka_bootstrap: str, kafka_admin: AdminClient, model_dir: Path, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    group_id = f"conflict-{run}"
    topics = _topics(kafka_admin, run)
    [event] = list(demo_events(1))
    changed = orjson.loads(event.value)
    changed["finances"]["monthly_income"] = changed["finances"]["monthly_income"] + 1000
    produce(kafka_bootstrap, topics.input, [(event.key, event.value)])

    scorer = _scorer(
        kafka_bootstrap, topics, group_id, model_dir, tmp_path / "scorer.log", tmp_path / "s"
    )
    scorer.start()
    try:
        scorer.wait_ready()
        [score] = consume(
            kafka_bootstrap, topics.output, expected=1, group_id=f"{group_id}-o", settle_s=0.5
        )
        produce(
            kafka_bootstrap,
            topics.input,
            [(event.key, orjson.dumps(changed)), (event.key, event.value)],
        )
        [dead] = consume(
            kafka_bootstrap, topics.dlq, expected=1, group_id=f"{group_id}-d", settle_s=1.0
        )
        context = parse_dead_letter_headers(list(dead.headers))
        assert context.reason is DeadLetterReason.CONFLICTING_DUPLICATE
        # The first event was the topic's only record, so its partition's offset 0.
        assert dict(dead.headers)[HEADER_FIRST_OFFSET] == b"0"
        assert decode_loan_scored(score.value).application_id == event.key.decode()
        assert dead.value == orjson.dumps(changed)  # the original record, untouched
        # The identical re-send after it is a plain duplicate: still one score.
        scores = consume(
            kafka_bootstrap, topics.output, expected=1, group_id=f"{group_id}-o2", settle_s=2.0
        )
        assert len(scores) == 1
        assert scorer.metric("loan_scorer_duplicates_total") == 1
    finally:
        scorer.kill()
