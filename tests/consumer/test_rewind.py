"""Going back to the committed offsets after a producer was replaced: the read may be repeated
while it times out, but never a seek past what is committed, and a rewind that cannot be done
still stops the loop."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.kafka.errors import RewindFailedError
from consumer.kafka.rewind import COMMITTED_ATTEMPTS, OFFSET_BEGINNING, rewind_to_committed

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
