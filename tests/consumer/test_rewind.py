"""Going back to the committed offsets after a producer was replaced: the read may be repeated
while it times out, but never a seek past what is committed, and a rewind that cannot be done
still stops the loop."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.kafka.errors import RewindFailedError
from consumer.kafka.rewind import COMMITTED_ATTEMPTS, OFFSET_BEGINNING, rewind, rewind_to_committed

TIMED_OUT = KafkaError(KafkaError._TIMED_OUT, "Failed to get committed offsets: Local: Timed out")


class ScriptedConsumer:
    """committed() fails as scripted, then answers 42 for partition 0 and nothing for 1."""

    def __init__(self, failures: list[KafkaError]) -> None:
        self._failures = failures
        self.asked = 0
        self.seeks: list[tuple[str, int, int]] = []

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.asked += 1
        if self._failures:
            raise KafkaException(self._failures.pop(0))
        offsets = {0: 42, 1: -1001}
        return [TopicPartition(tp.topic, tp.partition, offsets[tp.partition]) for tp in partitions]

    def seek(self, position: TopicPartition) -> None:
        self.seeks.append((position.topic, position.partition, position.offset))


def test_a_read_that_times_out_right_after_a_broker_restart_is_asked_again() -> None:
    consumer = ScriptedConsumer([TIMED_OUT])
    rewind_to_committed(consumer, {("in", 0), ("in", 1)}, timeout_s=10)  # type: ignore[arg-type]
    assert consumer.asked == 2
    assert consumer.seeks == [("in", 0, 42), ("in", 1, OFFSET_BEGINNING)]


def test_a_read_that_keeps_timing_out_stops_the_loop_without_a_seek() -> None:
    consumer = ScriptedConsumer([TIMED_OUT] * COMMITTED_ATTEMPTS)
    with pytest.raises(RewindFailedError, match="Timed out"):
        rewind_to_committed(consumer, {("in", 0)}, timeout_s=10)  # type: ignore[arg-type]
    assert consumer.asked == COMMITTED_ATTEMPTS
    assert consumer.seeks == []


def test_any_other_failure_stops_the_loop_at_once() -> None:
    consumer = ScriptedConsumer([KafkaError(KafkaError._STATE, "Erroneous state")])
    with pytest.raises(RewindFailedError):
        rewind_to_committed(consumer, {("in", 0)}, timeout_s=10)  # type: ignore[arg-type]
    assert consumer.asked == 1
    assert consumer.seeks == []


@dataclass
class Consumed:
    """A consumed record's position (what a rewind reads of it)."""

    at: tuple[str, int, int]

    def topic(self) -> str:
        return self.at[0]

    def partition(self) -> int:
        return self.at[1]

    def offset(self) -> int:
        return self.at[2]


def test_a_rewind_seeks_each_still_assigned_partition_to_the_batch_start() -> None:
    consumer = ScriptedConsumer([])
    batch = [Consumed(("in", 0, 7)), Consumed(("in", 1, 3)), Consumed(("in", 0, 5))]
    stages: list[str] = []
    rewind(consumer, batch, {("in", 0)}, stages.append)  # type: ignore[arg-type]
    assert consumer.seeks == [("in", 0, 5)]  # partition 1 was revoked: its new owner resumes
    assert stages == ["rewind"]


def test_a_fault_injected_at_the_rewind_stops_the_loop_before_any_seek() -> None:
    consumer = ScriptedConsumer([])

    def refuse(stage: str) -> None:
        raise KafkaException(KafkaError(KafkaError._STATE, f"injected at {stage}"))

    with pytest.raises(RewindFailedError, match="injected at rewind"):
        rewind(consumer, [Consumed(("in", 0, 7))], {("in", 0)}, refuse)  # type: ignore[arg-type, list-item]
    assert consumer.seeks == []
