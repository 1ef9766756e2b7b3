"""Two, then three scorers in one group on six partitions; members join and leave during the
stream, by SIGTERM and by kill -9: nothing lost, nothing doubled, order per key kept."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.fleet import Broker, Scorer, create_topics
from tests.faults.recovery import FaultRow, seconds_to_next_output, unique
from tests.faults.stream import (
    CommittedReader,
    PacedInputs,
    fault_events,
    keyed_inputs,
    uncommitted_partitions,
    verdict,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.timeout(900),
]

# The stream's length, whatever its size: members take up to a minute or two to start on a
# loaded machine, and each join and leave must land while there is work left (checked).
STREAM_S = 300.0


@pytest.mark.parametrize(
    "delivery", ["exactly-once", pytest.param("at-least-once", marks=pytest.mark.soak)]
)
def test_members_join_and_leave_by_sigterm_and_kill_9_during_the_stream(
    fault_broker: Broker,
    model_dir: Path,
    tmp_path: Path,
    fault_report: list[dict[str, Any]],
    delivery: str,
) -> None:
    n = fault_events(3_000)
    topics = create_topics(fault_broker, unique("group"), partitions=6)
    inputs = keyed_inputs(n)
    group = unique("group")
    # Small batches keep the stream going while members start (each takes seconds to be ready).
    env = {"LOAN_SCORER_DELIVERY": delivery, "LOAN_SCORER_BATCH_MAX_EVENTS": "10"}

    def member(name: str) -> Scorer:
        scorer = Scorer(fault_broker, topics, group, model_dir, tmp_path, name, **env)
        scorer.start()
        scorer.wait_ready(timeout_s=120)  # a member still importing would die of the SIGTERM
        return scorer

    reader = CommittedReader(fault_broker.bootstrap, topics.output, group + "-reader")
    members = {"a": member("member-a"), "b": member("member-b")}
    paced = PacedInputs(fault_broker.bootstrap, topics.input, inputs.records, STREAM_S)
    paced.start()
    valid = len(inputs.valid_event_ids)
    recoveries: list[float] = []
    try:
        assert reader.wait_for(int(valid * 0.15), timeout_s=180)
        members["c"] = member("member-c")  # two, then three
        reader.assert_mid_stream(valid, "member c joining")
        assert reader.wait_for(int(valid * 0.35), timeout_s=180)
        code, _took = members.pop("b").terminate(timeout_s=30)  # leaves the group
        assert code == 0
        reader.assert_mid_stream(valid, "member b leaving (SIGTERM)")
        assert reader.wait_for(int(valid * 0.55), timeout_s=180)
        members.pop("a").kill9()  # holds its partitions until its session expires
        killed_at = time.monotonic()
        reader.assert_mid_stream(valid, "member a killed (kill -9)")
        # Work left (input not committed to its end): the survivors must take it up.
        if uncommitted_partitions(fault_broker.bootstrap, topics.input, group):
            recoveries.append(seconds_to_next_output(reader, killed_at, timeout_s=90))
        assert reader.wait_for(int(valid * 0.7), timeout_s=180)
        members["d"] = member("member-d")  # joins again
        reader.assert_mid_stream(valid, "member d joining")
        paced.join(timeout_s=STREAM_S + 120)
        result = verdict(
            fault_broker.bootstrap,
            topics,
            group,
            inputs,
            reader,
            exactly_once=delivery == "exactly-once",
        )
        codes = [m.terminate(timeout_s=30)[0] for m in members.values()]
    finally:
        reader.close()
        for scorer in members.values():
            scorer.kill()
    fault_report.append(
        FaultRow.of("members join/leave (SIGTERM, kill -9)", delivery, n, 4, result, recoveries)
    )
    if delivery == "exactly-once":
        result.assert_exactly_once()
    else:
        result.assert_at_least_once()
    assert codes == [0, 0]
