from __future__ import annotations

from consumer.health import Readiness


def test_not_ready_until_model_and_broker_and_says_why() -> None:
    readiness = Readiness()
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == ["model not loaded", "Kafka broker not reachable"]

    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    assert readiness.snapshot().ready  # assignment still pending: a member may own nothing


def test_assignment_error_and_shutdown_make_it_unready() -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    readiness.set_assignment("error", 0, error="boom")
    assert readiness.snapshot().reasons() == ["consumer group assignment failed"]
    assert readiness.snapshot().last_error == "boom"

    readiness.set_assignment("assigned", 3)
    readiness.set_stopping()
    assert readiness.snapshot().reasons() == ["shutting down"]
