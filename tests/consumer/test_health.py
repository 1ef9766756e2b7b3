from __future__ import annotations

from consumer.telemetry.readiness import Readiness


def test_not_ready_until_model_and_broker_and_says_why() -> None:
    readiness = Readiness()
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    # Nothing known of the broker yet: the first seconds say so, not "not reachable" (issue 23).
    assert snapshot.reasons() == ["model not loaded", "connecting to Kafka"]

    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    assert readiness.snapshot().ready  # assignment still pending: a member may own nothing


def test_shutdown_makes_it_unready() -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    readiness.set_assignment("assigned", 3)
    readiness.set_stopping()
    assert readiness.snapshot().reasons() == ["shutting down"]


def test_a_broker_reachable_again_leaves_no_stale_error() -> None:
    """Issue 23: `ready: true`, 0 partitions and `last_error: _ALL_BROKERS_DOWN` after recovery."""
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(False, "_ALL_BROKERS_DOWN")
    snapshot = readiness.snapshot()
    assert snapshot.reasons() == ["Kafka broker not reachable"]
    assert snapshot.last_error == "_ALL_BROKERS_DOWN"

    readiness.set_broker_reachable(True)

    snapshot = readiness.snapshot()
    assert snapshot.ready
    assert snapshot.last_error is None


def test_an_assignment_proves_the_broker_answers() -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(False, "_ALL_BROKERS_DOWN")  # stale: the group answered since
    readiness.set_assignment("assigned", 2)
    snapshot = readiness.snapshot()
    assert snapshot.ready
    assert snapshot.last_error is None


def test_an_assigned_partition_outranks_a_topic_check_that_says_the_topic_is_missing() -> None:
    """Issue 23: /readyz said the input topic did not exist while a partition of it was
    assigned (the check's metadata was older than the assignment)."""
    readiness = _up(Readiness())
    readiness.set_input_topic_problem("input topic 'apps' does not exist")
    readiness.set_assignment("assigned", 1)
    assert readiness.snapshot().ready
    readiness.set_assignment("pending", 0)
    assert readiness.snapshot().reasons() == ["input topic 'apps' does not exist"]


def test_a_stalled_retry_loop_stays_unready_whatever_the_broker_statistics_say() -> None:
    readiness = _up(Readiness())
    readiness.set_assignment("assigned", 1)
    cause = "batch failing for 61 s: produce to loan-scores: UNKNOWN_TOPIC_OR_PART"
    readiness.set_stalled("batch", cause)
    readiness.set_broker_reachable(True)  # the statistics callback, every 5 s
    readiness.set_broker_reachable(False, "commit_transaction: _TIMED_OUT")  # the next attempt
    readiness.set_broker_reachable(True)

    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == [cause]
    assert snapshot.last_error == cause

    readiness.set_stalled("batch", None)
    assert readiness.snapshot().ready


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _up(readiness: Readiness) -> Readiness:
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    return readiness


def test_no_partition_for_longer_than_the_bound_is_not_ready_and_says_so() -> None:
    clock = FakeClock()
    readiness = _up(Readiness(assignment_timeout_s=60, clock=clock))
    clock.now += 59
    assert readiness.snapshot().ready  # a rebalance in progress is still ready
    clock.now += 2
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == ["no partition assigned for 61 s"]

    readiness.set_assignment("assigned", 2)
    assert readiness.snapshot().ready
    readiness.set_assignment("pending", 0)  # every partition revoked: the wait starts again
    clock.now += 30
    assert readiness.snapshot().ready
    clock.now += 30
    assert not readiness.snapshot().ready


def test_the_wait_for_an_assignment_starts_only_once_model_and_broker_are_up() -> None:
    clock = FakeClock()
    readiness = Readiness(assignment_timeout_s=10, clock=clock)
    readiness.set_model_loaded(True)
    clock.now += 100  # the broker was down all along: that is the reason, not the assignment
    readiness.set_broker_reachable(True)
    assert readiness.snapshot().ready
    clock.now += 10
    assert readiness.snapshot().reasons() == ["no partition assigned for 10 s"]


def test_a_zero_bound_never_judges_the_assignment() -> None:
    clock = FakeClock()
    readiness = _up(Readiness(assignment_timeout_s=0, clock=clock))
    clock.now += 86_400
    assert readiness.snapshot().ready


def test_a_missing_input_topic_is_not_ready_with_the_reason_until_it_appears() -> None:
    readiness = _up(Readiness())
    readiness.set_input_topic_problem("input topic 'apps' does not exist")
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == ["input topic 'apps' does not exist"]
    readiness.set_input_topic_problem(None)
    assert readiness.snapshot().ready


def test_refused_credentials_are_not_ready_naming_the_cause_until_a_broker_is_reachable() -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    readiness.set_kafka_security_problem("Kafka authentication failed: invalid credentials")
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == [
        "Kafka broker not reachable",
        "Kafka authentication failed: invalid credentials",
    ]
    assert snapshot.last_error == "Kafka authentication failed: invalid credentials"

    readiness.set_broker_reachable(False, "init_transactions: _TIMED_OUT")  # a retry meanwhile
    assert "Kafka authentication failed: invalid credentials" in readiness.snapshot().reasons()

    readiness.set_broker_reachable(True)  # connected: authenticated after all
    assert readiness.snapshot().ready


def test_a_restore_in_progress_is_not_ready_and_says_how_far() -> None:
    from consumer.runtime.assembly import RestoreReporter
    from consumer.runtime.service import new_metrics
    from consumer.telemetry.liveness import Liveness

    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    metrics = new_metrics()
    reporter = RestoreReporter(readiness, metrics, Liveness())

    reporter.restoring(2, 0, 40_000)
    reporter.restoring(2, 12_500, 40_000)
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == ["restoring state: 12,500 of 40,000 records (partition 2)"]
    restored = metrics.registry.get_sample_value("loan_scorer_state_restore_records_total")
    assert restored == 12_500

    reporter.restored(2, 40_000, 3.0)
    assert readiness.snapshot().ready
