"""The retry policy of transactional calls: every retry bounded, every failed abort fatal."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import CollectorRegistry

from consumer.kafka.calls import KafkaCalls
from consumer.kafka.errors import (
    BatchAborted,
    FatalKafkaError,
    ProducerWedgedError,
    TransactionStateError,
)
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _calls(time: FakeTime) -> tuple[KafkaCalls, ScorerMetrics, Readiness]:
    metrics = ScorerMetrics(CollectorRegistry())
    readiness = Readiness()
    calls = KafkaCalls(
        metrics,
        readiness,
        call_timeout_s=30,
        clock=time.clock,
        sleep=time.sleep,
        wait=lambda _stop, seconds: time.sleep(seconds),
    )
    return calls, metrics, readiness


def _failing(error: KafkaError) -> tuple[list[float], object]:
    attempts: list[float] = []

    def call(timeout: float) -> None:
        attempts.append(timeout)
        raise KafkaException(error)

    return attempts, call


RETRIABLE_TIMEOUT = KafkaError(KafkaError._TIMED_OUT, "timed out", retriable=True)


def test_a_retriable_error_is_retried_until_the_transaction_timeout_then_aborts() -> None:
    time = FakeTime()
    calls, metrics, readiness = _calls(time)
    attempts, call = _failing(RETRIABLE_TIMEOUT)
    deadline = time.now + 10
    with pytest.raises(BatchAborted) as aborted:
        calls.in_transaction("send_offsets_to_transaction", call, deadline)  # type: ignore[arg-type]
    assert aborted.value.error_name == "_TIMED_OUT"
    assert time.now < deadline  # never retried past the transaction's own timeout
    assert len(attempts) >= 3
    assert all(timeout <= 10 for timeout in attempts)  # each call bounded by what is left
    retries = metrics.registry.get_sample_value(
        "loan_scorer_kafka_retries_total", {"operation": "send_offsets_to_transaction"}
    )
    assert retries == len(attempts) - 1
    assert readiness.snapshot().last_error == "send_offsets_to_transaction: _TIMED_OUT"


@pytest.mark.parametrize(
    "error",
    [
        KafkaError(KafkaError._STATE, "abortable", txn_requires_abort=True),
        KafkaError(KafkaError.INVALID_TXN_STATE, "neither retriable nor abortable"),
    ],
)
def test_an_abortable_or_unclassified_error_aborts_at_once(error: KafkaError) -> None:
    calls, _metrics, _readiness = _calls(FakeTime())
    attempts, call = _failing(error)
    with pytest.raises(BatchAborted):
        calls.in_transaction("commit_transaction", call, 1e9)  # type: ignore[arg-type]
    assert len(attempts) == 1


def test_a_fatal_error_is_fatal_wherever_it_comes_from() -> None:
    calls, _metrics, _readiness = _calls(FakeTime())
    fenced = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    _attempts, call = _failing(fenced)
    with pytest.raises(FatalKafkaError, match="_FENCED"):
        calls.in_transaction("commit_transaction", call, 1e9)  # type: ignore[arg-type]
    with pytest.raises(FatalKafkaError):
        calls.abort(call, 1e9)  # type: ignore[arg-type]


def test_an_abort_that_keeps_failing_stops_the_loop_at_its_deadline() -> None:
    time = FakeTime()
    calls, _metrics, _readiness = _calls(time)
    loading = KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS, "loading", retriable=True)
    attempts, call = _failing(loading)
    with pytest.raises(TransactionStateError, match="abort_transaction failed: COORDINATOR_LOAD"):
        calls.abort(call, time.now + 60)  # type: ignore[arg-type]
    assert 1 < len(attempts) < 20
    assert time.now <= 1_000 + 60


def test_an_abort_that_times_out_replaces_the_producer_at_once() -> None:
    """After a broker restart librdkafka's EndTxn can sit unsent while the coordinator is back
    (every retry timed out, then the process exited, 20 s after the broker answered again). A
    new producer's init_transactions waits for the broker and settles the transaction."""
    time = FakeTime()
    calls, _metrics, _readiness = _calls(time)
    attempts, call = _failing(RETRIABLE_TIMEOUT)
    with pytest.raises(ProducerWedgedError, match="abort_transaction"):
        calls.abort(call, time.now + 60)  # type: ignore[arg-type]
    assert len(attempts) == 1


def test_an_abort_with_no_transaction_open_stops_the_loop_instead_of_looping() -> None:
    calls, _metrics, _readiness = _calls(FakeTime())
    attempts, call = _failing(KafkaError(KafkaError._STATE, "Operation not valid in state Ready"))
    with pytest.raises(TransactionStateError):
        calls.abort(call, 1e9)  # type: ignore[arg-type]
    assert len(attempts) == 1


def test_init_transactions_waits_for_the_broker_until_stopped() -> None:
    calls, _metrics, readiness = _calls(FakeTime())
    stop = threading.Event()
    beats: list[int] = []

    def call(_timeout: float) -> None:
        if len(beats) == 3:
            stop.set()
        raise KafkaException(RETRIABLE_TIMEOUT)

    assert not calls.until_stopped("init_transactions", call, stop, lambda: beats.append(1))
    assert len(beats) == 4
    assert not readiness.snapshot().broker_reachable


def test_a_call_stuck_past_its_timeout_is_reported_wedged_not_waited_for() -> None:
    """librdkafka issue 5456: send_offsets_to_transaction can ignore its timeout."""
    metrics = ScorerMetrics(CollectorRegistry())
    calls = KafkaCalls(metrics, Readiness(), call_timeout_s=0.01, wedge_grace_s=0.05)
    release = threading.Event()
    try:
        with pytest.raises(ProducerWedgedError, match="send_offsets_to_transaction"):
            calls.in_transaction(
                "send_offsets_to_transaction", lambda _timeout: release.wait(), deadline=1e12
            )
        with pytest.raises(ProducerWedgedError, match="abort_transaction"):
            calls.abort(lambda _timeout: release.wait(), deadline=1e12)
    finally:
        release.set()
    replaced = metrics.registry.get_sample_value(
        "loan_scorer_kafka_retries_total", {"operation": "producer_replaced"}
    )
    assert replaced == 2


def test_an_abort_refused_because_a_timed_out_commit_still_runs_replaces_the_producer() -> None:
    """After commit_transaction timed out, librdkafka goes on committing in the background and
    refuses an abort with _CONFLICT: the outcome is unknown, so the producer is replaced."""
    calls, _metrics, _readiness = _calls(FakeTime())
    conflict = KafkaError(KafkaError._CONFLICT, "Conflicting commit_transaction API call")
    attempts, call = _failing(conflict)
    with pytest.raises(ProducerWedgedError):
        calls.abort(call, 1e9)  # type: ignore[arg-type]
    assert len(attempts) == 1


def test_calls_share_one_helper_thread_until_one_wedges_it() -> None:
    """A thread per call cost more than the call on a busy machine; a wedged one is left behind
    and the next call gets a fresh thread, not a queue behind the stuck call."""
    metrics = ScorerMetrics(CollectorRegistry())
    calls = KafkaCalls(metrics, Readiness(), call_timeout_s=0.01, wedge_grace_s=0.05)
    threads: list[int] = []

    def note_thread(_timeout: float) -> None:
        threads.append(threading.get_ident())

    release = threading.Event()
    try:
        calls.in_transaction("commit_transaction", note_thread, deadline=1e12)
        calls.in_transaction("commit_transaction", note_thread, deadline=1e12)
        with pytest.raises(ProducerWedgedError):
            calls.in_transaction("commit_transaction", lambda _t: release.wait(), deadline=1e12)
        calls.in_transaction("commit_transaction", note_thread, deadline=1e12)
    finally:
        release.set()
    assert threads[0] == threads[1] != threading.get_ident()
    assert threads[2] != threads[0]


class RecordingTime(FakeTime):
    """FakeTime that also keeps every pause it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        super().sleep(seconds)


LOADING = KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS, "loading", retriable=True)


def test_retries_in_a_transaction_back_off_doubling_up_to_the_cap() -> None:
    time = RecordingTime()
    calls, metrics, _readiness = _calls(time)
    attempts, call = _failing(RETRIABLE_TIMEOUT)
    with pytest.raises(BatchAborted):
        calls.in_transaction("commit_transaction", call, time.now + 60)  # type: ignore[arg-type]
    # 12.6 s of doubling, then 10 s pauses while one more still ends before the deadline.
    assert time.pauses == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0, 10.0]
    assert len(attempts) == len(time.pauses) + 1
    assert metrics.registry.get_sample_value(
        "loan_scorer_kafka_retries_total", {"operation": "commit_transaction"}
    ) == len(time.pauses)


def test_an_abort_backs_off_like_a_transactional_call_and_counts_as_abort_transaction() -> None:
    time = RecordingTime()
    calls, metrics, _readiness = _calls(time)
    attempts, call = _failing(LOADING)
    with pytest.raises(TransactionStateError):
        calls.abort(call, time.now + 2)  # type: ignore[arg-type]
    assert time.pauses == [0.2, 0.4, 0.8]  # the next, 1.6, would pass the deadline
    # Each call bounded by what is left of the deadline, never below MIN_CALL_TIMEOUT_S.
    assert attempts == pytest.approx([2.0, 1.8, 1.4, 0.6])
    assert (
        metrics.registry.get_sample_value(
            "loan_scorer_kafka_retries_total", {"operation": "abort_transaction"}
        )
        == 3
    )


def test_init_transactions_backs_off_from_half_a_second_with_the_full_call_timeout() -> None:
    time = RecordingTime()
    calls, metrics, _readiness = _calls(time)
    stop = threading.Event()
    attempts: list[float] = []

    def call(timeout: float) -> None:
        attempts.append(timeout)
        if len(attempts) < 7:
            raise KafkaException(LOADING)

    assert calls.until_stopped("init_transactions", call, stop)
    assert time.pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert attempts == [30] * 7  # never cut short: there is no deadline at start-up
    assert (
        metrics.registry.get_sample_value(
            "loan_scorer_kafka_retries_total", {"operation": "init_transactions"}
        )
        == 6
    )


def test_a_stop_asked_for_before_init_transactions_makes_no_call() -> None:
    calls, _metrics, _readiness = _calls(FakeTime())
    stop = threading.Event()
    stop.set()
    attempts, call = _failing(LOADING)
    assert not calls.until_stopped("init_transactions", call, stop)  # type: ignore[arg-type]
    assert attempts == []


def test_a_fatal_error_at_start_up_is_not_waited_out() -> None:
    calls, _metrics, _readiness = _calls(FakeTime())
    attempts, call = _failing(KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    with pytest.raises(FatalKafkaError, match="init_transactions"):
        calls.until_stopped("init_transactions", call, threading.Event())  # type: ignore[arg-type]
    assert len(attempts) == 1
