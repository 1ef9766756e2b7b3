"""A freeze is a gap between ticks far longer than their period; a fence after one is final."""

from __future__ import annotations

from consumer.kafka.freeze_detector import FreezeDetector


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_regular_ticks_are_no_freeze_and_a_long_gap_is_one_after_its_start() -> None:
    clock = FakeClock()
    detector = FreezeDetector(clock, frozen_after_s=5)
    for _ in range(20):
        clock.now += 0.5
        detector.tick()
    began = clock.now
    assert not detector.frozen_since(began - 60)
    clock.now += 30  # SIGSTOP for 30 s
    assert detector.frozen_since(began)
    clock.now += 0.5
    assert not detector.frozen_since(clock.now)  # a transaction begun after it was not frozen
