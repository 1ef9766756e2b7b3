"""kill -9 mid-transaction, three times, each after 20 % more progress: the restarted scorer (same
instance id, as a StatefulSet pod) aborts the dead one's transaction and resumes from the committed
offsets. Recovery, from the kill to the next committed output, stays under 30 s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.fleet import Broker, Scorer, create_topics, kill_mid_transaction
from tests.faults.recovery import FaultRow, seconds_to_next_output, unique
from tests.faults.stream import CommittedReader, fault_events, keyed_inputs, produce_all, verdict

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

RECOVERY_BOUND_S = 30.0


@pytest.mark.parametrize("delivery", ["exactly-once", "at-least-once"])
def test_kill_9_mid_transaction_three_times(
    fault_broker: Broker,
    model_dir: Path,
    tmp_path: Path,
    fault_report: list[dict[str, Any]],
    delivery: str,
) -> None:
    n = fault_events(3_000)
    topics = create_topics(fault_broker, unique("kill9"), partitions=3)
    inputs = keyed_inputs(n)
    produce_all(fault_broker.bootstrap, topics.input, inputs.records)
    group = unique("kill9")
    env = {"LOAN_SCORER_DELIVERY": delivery, "LOAN_SCORER_BATCH_MAX_EVENTS": "50"}
    reader = CommittedReader(fault_broker.bootstrap, topics.output, group + "-reader")
    scorer = Scorer(fault_broker, topics, group, model_dir, tmp_path, "kill9-0", **env)
    scorer.start()
    recoveries: list[float] = []
    mid_transaction = 0
    try:
        valid = len(inputs.valid_event_ids)
        for k in (1, 2, 3):
            assert reader.wait_for(int(valid * 0.2 * k), timeout_s=180), scorer.logs()
            if delivery == "exactly-once":
                mid_transaction += kill_mid_transaction(scorer, fault_broker, topics)
            else:
                scorer.kill9()
            killed_at = time.monotonic()
            reader.assert_mid_stream(valid, f"kill -9 number {k}")
            scorer = Scorer(fault_broker, topics, group, model_dir, tmp_path, "kill9-0", **env)
            scorer.start()
            recoveries.append(seconds_to_next_output(reader, killed_at, timeout_s=90))
        result = verdict(
            fault_broker.bootstrap,
            topics,
            group,
            inputs,
            reader,
            exactly_once=delivery == "exactly-once",
        )
        code, _took = scorer.terminate(timeout_s=30)
    finally:
        reader.close()
        scorer.kill()
    fault_report.append(FaultRow.of("kill -9 mid-transaction", delivery, n, 3, result, recoveries))
    if delivery == "exactly-once":
        result.assert_exactly_once()
        assert mid_transaction >= 1, "no kill landed inside an open transaction"
    else:
        result.assert_at_least_once()
    assert code == 0, scorer.logs()
    assert max(recoveries) < RECOVERY_BOUND_S, recoveries
