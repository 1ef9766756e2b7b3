"""A zombie: a scorer paused with SIGSTOP inside an open transaction, past its session timeout and
its transaction timeout, while another member takes its partitions; resumed with SIGCONT, its late
writes are fenced and never committed, and it exits non-zero (its restart rejoins cleanly)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.fleet import Broker, Scorer, create_topics, open_transaction_on
from tests.faults.recovery import FaultRow, unique
from tests.faults.stream import CommittedReader, fault_events, keyed_inputs, produce_all, verdict

# pytest's timeout is only a guard against a hang (it counts the suite broker's start when this
# test runs first); every wait below has a bound of its own that says what failed.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.timeout(900 if fault_events(3_000) <= 3_000 else 1_800),  # make soak: 20,000
]

SESSION_TIMEOUT_S = 10  # consumer/kafka/config.py


def _pause_inside_a_transaction(zombie: Scorer, broker: Broker, topics: object) -> bool:
    for _ in range(300):
        zombie.signal(signal.SIGSTOP)
        if open_transaction_on(broker, topics):  # type: ignore[arg-type]
            return True
        zombie.signal(signal.SIGCONT)
        time.sleep(0.003)
    zombie.signal(signal.SIGSTOP)
    return False


def test_a_zombie_paused_past_its_session_is_fenced_and_never_commits(
    fault_broker: Broker,
    model_dir: Path,
    tmp_path: Path,
    fault_report: list[dict[str, Any]],
) -> None:
    n = fault_events(3_000)
    topics = create_topics(fault_broker, unique("zombie"), partitions=4)
    inputs = keyed_inputs(n)
    produce_all(fault_broker.bootstrap, topics.input, inputs.records)
    group = unique("zombie")
    env = {"LOAN_SCORER_BATCH_MAX_EVENTS": "50"}
    reader = CommittedReader(fault_broker.bootstrap, topics.output, group + "-reader")
    zombie = Scorer(fault_broker, topics, group, model_dir, tmp_path, "zombie", **env)
    zombie.start()
    survivor = Scorer(fault_broker, topics, group, model_dir, tmp_path, "survivor", **env)
    try:
        # Inside the try: a zombie that is not ready in time must still be killed (it outlived
        # its test, retrying init_transactions against a stopped broker, before this moved).
        zombie.wait_ready()
        survivor.start()
        valid = len(inputs.valid_event_ids)
        assert reader.wait_for(int(valid * 0.2), timeout_s=180)
        in_transaction = _pause_inside_a_transaction(zombie, fault_broker, topics)
        paused_at = reader.assert_mid_stream(valid, "the zombie's pause")
        # The survivor takes the zombie's partitions once its session expires, and the
        # coordinator aborts the zombie's transaction once it is older than its timeout.
        assert reader.wait_for(paused_at + int(valid * 0.1), timeout_s=120), survivor.logs()
        time.sleep(SESSION_TIMEOUT_S)
        zombie.signal(signal.SIGCONT)
        zombie_code = zombie.exit_code(timeout_s=90)
        zombie.assert_no_traceback()
        result = verdict(fault_broker.bootstrap, topics, group, inputs, reader)
        survivor_code, _took = survivor.terminate(timeout_s=30)
    finally:
        reader.close()
        zombie.kill()
        survivor.kill()
    fault_report.append(
        FaultRow.of("zombie (SIGSTOP past session)", "exactly-once", n, 1, result, [])
    )
    assert in_transaction, "the zombie was never caught with an open transaction"
    result.assert_exactly_once()
    assert zombie_code != 0, zombie.logs()
    assert "cannot go on safely" in zombie.logs()
    assert survivor_code == 0, survivor.logs()
