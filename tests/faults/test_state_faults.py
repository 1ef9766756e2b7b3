"""The state store through `kill -9` (issue 22, item 8): during its writes, with the store left
corrupt, and during a restore. Each time the restarted scorer uses or rebuilds its local state,
nothing is lost or doubled, and the events already scored, sent again by upstream, are not
scored a second time (the store, or the changelog behind it, still knows every one of them)."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from confluent_kafka import Producer

from consumer.pipeline.dedup import changelog_batch_key, changelog_batch_value
from consumer.state.hashing import content_hash
from consumer.state.partitions import CHECKPOINT_FILE, STORE_DIR
from consumer.state.scored_id import ScoredId
from tests.faults.fleet import Broker, Scorer, create_topics
from tests.faults.recovery import unique
from tests.faults.stream import (
    CommittedReader,
    Inputs,
    fault_events,
    keyed_inputs,
    produce_all,
    verdict,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

PARTITIONS = 3
PADDED_IDS = 900_000  # a history whose cold restore takes seconds, so a kill lands within it
CHANGELOG_SUFFIX = "-scored-ids-changelog"  # Settings.changelog_topic's default
_RESTORING = re.compile(r"restoring state: ([\d,]+) of ([\d,]+) records \(partition (\d+)\)")


def _scorer(
    broker: Broker, topics: object, group: str, model_dir: Path, tmp_path: Path, state: Path
) -> Scorer:
    """A scorer with the state volume `state`: the same directory across restarts, as a
    StatefulSet pod keeps its volume (the harness gives each process a fresh one otherwise)."""
    return Scorer(
        broker, topics, group, model_dir, tmp_path, "state-0",  # type: ignore[arg-type]
        LOAN_SCORER_DELIVERY="exactly-once", LOAN_SCORER_BATCH_MAX_EVENTS="20",
        LOAN_SCORER_STATE_DIR=str(state),
    )  # fmt: skip


def _valid_records(inputs: Inputs) -> list[tuple[bytes, bytes]]:
    """The valid inputs: what an upstream retry sends again (an invalid one has no id stored:
    it is dead-lettered each time it comes)."""
    return [(k, v) for k, v in inputs.records if k not in inputs.invalid_keys]


def _stores(state: Path) -> list[Path]:
    return sorted(state.glob(f"*{CHANGELOG_SUFFIX}/*/{STORE_DIR}"))


def _wait_for_line(scorer: Scorer, text: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in scorer.log_file.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no {text!r} in:\n{scorer.logs()}"
        assert scorer.alive(), scorer.logs()
        time.sleep(0.2)


def _resend_is_not_scored(
    broker: Broker, topics: object, inputs: Inputs, scorer: Scorer, reader: CommittedReader
) -> None:
    """Every valid input again: none is scored twice, each is counted as a duplicate."""
    before = scorer.metric("loan_scorer_duplicates_total")
    resent = _valid_records(inputs)
    produce_all(broker.bootstrap, topics.input, resent)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while scorer.metric("loan_scorer_duplicates_total") - before < len(resent):
        assert time.monotonic() < deadline, scorer.logs()
        assert scorer.alive(), scorer.logs()
        time.sleep(0.2)
    assert reader.count() == len(inputs.valid_event_ids), "a re-sent event was scored again"


def test_kill_9_during_state_writes_and_a_store_left_corrupt(
    fault_broker: Broker, model_dir: Path, tmp_path: Path
) -> None:
    """Batches of 20 commit (and write RocksDB) many times a second, so each kill -9 lands
    among the store's writes. After the second one the stores' CURRENT files are torn, as a
    kill -9 during RocksDB's own write of it would leave them: the scorer must detect it,
    rebuild from the changelog, and still know every id."""
    n = fault_events(3_000)
    topics = create_topics(fault_broker, unique("state-writes"), partitions=PARTITIONS)
    inputs = keyed_inputs(n)
    valid = len(inputs.valid_event_ids)
    produce_all(fault_broker.bootstrap, topics.input, inputs.records)
    group, state = unique("state-writes"), tmp_path / "state"
    reader = CommittedReader(fault_broker.bootstrap, topics.output, group + "-reader")
    scorer = _scorer(fault_broker, topics, group, model_dir, tmp_path, state)
    scorer.start()
    try:
        for k in (1, 2, 3):
            assert reader.wait_for(valid * k // 4, timeout_s=180, alive=scorer.alive), scorer.logs()
            scorer.kill9()
            assert reader.count() < valid, "the kill landed after the stream was all scored"
            assert _stores(state), "no local state was written before the kill"
            if k == 2:
                for store in _stores(state):
                    (store / "CURRENT").write_bytes(b"MANIFEST-00")  # torn mid-write
            scorer = _scorer(fault_broker, topics, group, model_dir, tmp_path, state)
            scorer.start()
            if k == 2:
                # A partition with a checkpoint finds its store torn; one that never committed
                # has none, and its empty store is replaced without a word: wait for the first.
                _wait_for_line(scorer, "state store unusable")
                _wait_for_line(scorer, "state store created empty")
        result = verdict(fault_broker.bootstrap, topics, group, inputs, reader)
        result.assert_exactly_once()
        _resend_is_not_scored(fault_broker, topics, inputs, scorer, reader)
        code, _took = scorer.terminate(timeout_s=30)
    finally:
        reader.close()
        scorer.kill()
    assert code == 0, scorer.logs()
    scorer.assert_no_traceback()


def _pad_changelog(bootstrap: str, topic: str, ids_per_partition: int) -> int:
    """Ids of events scored earlier in the window (other applications than this test's),
    written to the changelog as the scorer writes them: a history long enough for a restore to
    take seconds. Returns the records written."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "enable.idempotence": True}
    )
    now, per_record, records = time.time(), 2_000, 0
    for partition in range(PARTITIONS):
        for first in range(0, ids_per_partition, per_record):
            entries = [
                (str(uuid.uuid4()), ScoredId(now, content_hash(b"%d" % i), first + i))
                for i in range(per_record)
            ]
            producer.produce(
                topic,
                key=changelog_batch_key(partition, 10_000_000 + first),
                value=changelog_batch_value(entries),
                partition=partition,
            )
            records += 1
            producer.poll(0)
    assert producer.flush(120) == 0
    return records


def _restoring(scorer: Scorer) -> tuple[int, int, int] | None:
    """(records done, of, partition) of the restore /readyz reports, if one is under way."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{scorer.port}/readyz", timeout=1)
    except httpx.HTTPError:
        return None
    found = _RESTORING.search(answer.text)
    if found is None:
        return None
    done, total, partition = (int(g.replace(",", "")) for g in found.groups())
    return done, total, partition


def _checkpointed_mid_restore(scorer: Scorer, state: Path) -> bool:
    """A partition is mid-restore and its checkpoint file is already written."""
    progress = _restoring(scorer)
    if progress is None or not 0 < progress[0] < progress[1]:
        return False
    return any(state.glob(f"*{CHANGELOG_SUFFIX}/{progress[2]}/{CHECKPOINT_FILE}"))


def test_kill_9_during_a_restore_resumes_from_its_checkpoint(
    fault_broker: Broker, model_dir: Path, tmp_path: Path
) -> None:
    """The first scorer scores half the stream, then its volume is lost; its successor
    restores the changelog (padded with a long history) and is killed mid-restore, after it
    wrote a checkpoint; the third resumes from there, not from the start, and then scores the
    other half and the re-sent first half: every id once."""
    n = fault_events(2_000)
    topics = create_topics(fault_broker, unique("state-restore"), partitions=PARTITIONS)
    inputs = keyed_inputs(n)
    half = len(inputs.records) // 2
    first_half = Inputs(
        inputs.records[:half],
        {str(orjson.loads(v)["event_id"]) for k, v in inputs.records[:half]
         if k not in inputs.invalid_keys},
        {k for k, _ in inputs.records[:half] if k in inputs.invalid_keys},
    )  # fmt: skip
    group, state = unique("state-restore"), tmp_path / "state"
    reader = CommittedReader(fault_broker.bootstrap, topics.output, group + "-reader")
    produce_all(fault_broker.bootstrap, topics.input, first_half.records)
    scorer = _scorer(fault_broker, topics, group, model_dir, tmp_path, state)
    scorer.start()
    try:
        assert reader.wait_for(len(first_half.valid_event_ids), 180, scorer.alive), scorer.logs()
        code, _took = scorer.terminate(timeout_s=30)
        assert code == 0, scorer.logs()
        _pad_changelog(fault_broker.bootstrap, group + CHANGELOG_SUFFIX, PADDED_IDS // PARTITIONS)
        shutil.rmtree(state)  # the volume is lost: a cold restore of the whole changelog

        scorer = _scorer(fault_broker, topics, group, model_dir, tmp_path, state)
        scorer.start()
        deadline = time.monotonic() + 300
        while not _checkpointed_mid_restore(scorer, state):
            assert time.monotonic() < deadline, f"no checkpoint mid-restore\n{scorer.logs()}"
            assert scorer.alive(), scorer.logs()
            time.sleep(0.05)
        scorer.kill9()

        scorer = _scorer(fault_broker, topics, group, model_dir, tmp_path, state)
        scorer.start()
        produce_all(fault_broker.bootstrap, topics.input, inputs.records[half:])
        result = verdict(fault_broker.bootstrap, topics, group, inputs, reader)
        result.assert_exactly_once()
        restored = scorer.metric("loan_scorer_state_restore_records_total")  # ids, not offsets
        assert 0 < restored < PADDED_IDS, f"{restored:,.0f} ids restored: not resumed"
        _resend_is_not_scored(fault_broker, topics, inputs, scorer, reader)
        code, _took = scorer.terminate(timeout_s=30)
    finally:
        reader.close()
        scorer.kill()
    assert code == 0, scorer.logs()
    scorer.assert_no_traceback()
