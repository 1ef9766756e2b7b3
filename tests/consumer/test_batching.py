"""A batch starts the moment its first event arrives and takes what has already arrived."""

from __future__ import annotations

from typing import Any

from consumer.kafka.batching import IDLE_WAIT_S, consume_batch


class FakeConsumer:
    """Hands out queued records the way consume() does, and records how it was asked."""

    def __init__(self, queued: int) -> None:
        self.queued = queued
        self.calls: list[tuple[int, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        self.calls.append((num_messages, timeout))
        taken = min(num_messages, self.queued)
        self.queued -= taken
        return [object()] * taken


def test_idle_waits_only_for_a_first_event() -> None:
    consumer = FakeConsumer(queued=0)
    assert consume_batch(consumer, 500, linger_s=0.0) == []  # type: ignore[arg-type]  # fake
    assert consumer.calls == [(1, IDLE_WAIT_S)]


def test_a_first_event_brings_what_has_already_arrived_up_to_the_cap() -> None:
    consumer = FakeConsumer(queued=800)
    batch = consume_batch(consumer, 500, linger_s=0.0)  # type: ignore[arg-type]  # fake
    assert len(batch) == 500
    assert consumer.calls == [(1, IDLE_WAIT_S), (499, 0.0)]


def test_a_linger_is_waited_only_after_the_first_event() -> None:
    consumer = FakeConsumer(queued=3)
    assert len(consume_batch(consumer, 500, linger_s=0.02)) == 3  # type: ignore[arg-type]  # fake
    assert consumer.calls == [(1, IDLE_WAIT_S), (499, 0.02)]


def test_a_cap_of_one_is_one_call() -> None:
    consumer = FakeConsumer(queued=5)
    assert len(consume_batch(consumer, 1, linger_s=0.02)) == 1  # type: ignore[arg-type]  # fake
    assert consumer.calls == [(1, IDLE_WAIT_S)]
