"""Liveness: /healthz fails when the Kafka loop stops completing iterations."""

from __future__ import annotations

from fastapi.testclient import TestClient

from consumer.api.app import create_app
from consumer.api.state import ApiState
from consumer.runtime.service import new_metrics
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.readiness import Readiness


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_not_watched_before_the_loop_starts_then_stalled_past_the_bound() -> None:
    clock = FakeClock()
    liveness = Liveness(clock)
    clock.now += 10_000
    assert liveness.stalled_for() is None  # model still loading: nothing to watch yet
    liveness.watch(60)
    clock.now += 59
    assert liveness.stalled_for() is None
    clock.now += 2
    assert liveness.stalled_for() == 61
    liveness.beat()
    assert liveness.stalled_for() is None


def test_healthz_answers_503_while_the_loop_is_stalled() -> None:
    clock = FakeClock()
    liveness = Liveness(clock)
    state = ApiState(readiness=Readiness(), metrics=new_metrics(), liveness=liveness)
    with TestClient(create_app(state)) as client:
        liveness.watch(30)
        assert client.get("/healthz").status_code == 200
        clock.now += 31
        stalled = client.get("/healthz")
        liveness.beat()
        recovered = client.get("/healthz")
    assert stalled.status_code == 503
    assert stalled.json() == {"status": "stalled", "stalled_for_s": 31.0}
    assert recovered.status_code == 200
