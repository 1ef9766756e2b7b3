"""librdkafka's transactional API called the way its contract says, and never without a bound.

Error classes (librdkafka's examples/transactions.c): fatal errors end the producer, so they raise
`FatalKafkaError`; `txn_requires_abort` errors (and any other non-retriable one) end the batch's
transaction, so they raise `BatchAborted`; retriable errors are retried with exponential backoff,
but only until a deadline: retrying a call inside a transaction past the transaction's own timeout
cannot succeed (the coordinator has aborted it by then), so the caller passes that deadline.
Every retry is counted in `loan_scorer_kafka_retries_total{operation}`.

Each call runs in a helper thread (one, reused: a thread started per call cost a transaction
more than the call itself on a busy machine) and is waited for no longer than its timeout plus
`WEDGE_GRACE_S`: librdkafka can block in a transactional call past its own timeout while the
coordinator is away (its issues 5456 and 5511), and a loop blocked there forever is the failure
this module exists to prevent. Such a call raises `ProducerWedgedError`; the caller replaces the
producer and hands the old one to `abandon`, which frees it off the loop's thread: the helper
thread stuck in its call drops it once the call returns, and then ends too. Until then each
counts in `loan_scorer_abandoned_producers`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Final

from confluent_kafka import KafkaError, KafkaException

from consumer.kafka.errors import (
    BatchAborted,
    FatalKafkaError,
    ProducerWedgedError,
    TransactionStateError,
)
from consumer.records import MonotonicClock
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness

logger = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.2
MAX_BACKOFF_S = 10.0
MIN_CALL_TIMEOUT_S = 0.5
WEDGE_GRACE_S = 5.0

# A call given the seconds it may block (librdkafka's transactional calls all take a timeout).
TimedCall = Callable[[float], object]
Sleep = Callable[[float], object]
# Given a failed call's error, the backoff before the next try and the call's timeout: the
# exception that ends the retries, or None to try again.
Refusal = Callable[[KafkaError, float, float], Exception | None]


def kafka_error(exc: KafkaException) -> KafkaError:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return error
    return KafkaError(KafkaError._FAIL, str(exc))


class KafkaCalls:
    """The retry policy of every producer call that is not a plain produce()."""

    def __init__(
        self,
        metrics: ScorerMetrics,
        readiness: Readiness,
        *,
        call_timeout_s: float,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = time.sleep,
        wedge_grace_s: float = WEDGE_GRACE_S,
        wait: Callable[[threading.Event, float], object] = threading.Event.wait,
    ) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._call_timeout_s = call_timeout_s
        self._clock = clock
        self._sleep = sleep
        self._wedge_grace_s = wedge_grace_s
        self._wait = wait
        self._worker: _CallWorker | None = None
        self._stuck: _CallWorker | None = None  # the worker of the last wedged call
        self._retired: list[_CallWorker] = []  # stuck workers told to end once free

    def in_transaction(self, operation: str, call: TimedCall, deadline: float) -> None:
        """A call inside the open transaction; raises `BatchAborted` when it must be aborted
        (abortable, not retriable, or still failing at `deadline`)."""

        def refusal(error: KafkaError, backoff: float, _timeout: float) -> Exception | None:
            if error.txn_requires_abort() or not error.retriable():
                logger.warning(
                    "transaction must be aborted",
                    extra={"operation": operation, "kafka_error": error.name()},
                )
                return BatchAborted(operation, error.name())
            if self._clock() + backoff >= deadline:
                logger.warning(
                    "transaction timeout reached while retrying; aborting",
                    extra={"operation": operation, "kafka_error": error.name()},
                )
                return BatchAborted(operation, error.name())
            return None

        self._with_backoff(
            operation,
            lambda timeout: self._bounded(operation, call, timeout),
            lambda: self._timeout_until(deadline),
            refusal,
            self._sleep,
        )

    def abort(self, call: TimedCall, deadline: float) -> None:
        """Abort the open transaction. Retriable errors are retried until `deadline`; a failed
        abort leaves the producer in an unknown state, so it stops the loop (librdkafka's
        example treats it as fatal too). An abort that times out, or is refused because a
        commit still runs, raises `ProducerWedgedError`: only a new producer settles it."""

        def refusal(error: KafkaError, backoff: float, timeout: float) -> Exception | None:
            if error.code() == KafkaError._CONFLICT:
                # A commit that timed out is still running inside librdkafka: its outcome is
                # unknown, and only a new producer's init_transactions settles it.
                return ProducerWedgedError("abort_transaction", 0)
            if error.code() == KafkaError._TIMED_OUT:
                # The coordinator did not answer for a whole call: it is away, or librdkafka
                # lost its way back to it (after a broker restart its EndTxn can sit unsent
                # in the out-queue, timing out again and again). A new producer's
                # init_transactions waits for the broker as long as it takes, fences this one
                # and settles its transaction; retrying here only delays that, and a bound
                # ran out mid-outage exited the process (tests/faults/test_broker_faults.py).
                return ProducerWedgedError("abort_transaction", timeout)
            if not error.retriable() or self._clock() + backoff >= deadline:
                return TransactionStateError(
                    f"abort_transaction failed: {error.name()}: {error.str()}"
                )
            return None

        self._with_backoff(
            "abort_transaction",
            lambda timeout: self._bounded("abort_transaction", call, timeout),
            lambda: self._timeout_until(deadline),
            refusal,
            self._sleep,
        )

    def until_stopped(
        self,
        operation: str,
        call: TimedCall,
        stop: threading.Event,
        on_wait: Callable[[], None] = lambda: None,
        on_failure: Callable[[str], None] = lambda _cause: None,
    ) -> bool:
        """A start-up call (init_transactions) that waits for the broker, not ready meanwhile;
        returns False if a stop was requested first. `on_failure` is told each failure (a retry
        bound, which ends the wait by raising once it has lasted too long)."""

        def refusal(error: KafkaError, _backoff: float, _timeout: float) -> Exception | None:
            on_failure(f"{operation}: {error.name()}")
            return None  # any error but a fatal one: wait, and try again

        def pause(backoff: float) -> None:
            on_wait()
            self._wait(stop, backoff)

        return self._with_backoff(
            operation,
            call,
            lambda: self._call_timeout_s,
            refusal,
            pause,
            first_backoff_s=INITIAL_BACKOFF_S * 2.5,
            stopped=stop.is_set,
        )

    def _with_backoff(
        self,
        operation: str,
        call: TimedCall,
        timeout: Callable[[], float],
        refusal: Refusal,
        pause: Sleep,
        *,
        first_backoff_s: float = INITIAL_BACKOFF_S,
        stopped: Callable[[], bool] = lambda: False,
    ) -> bool:
        """`call(timeout())` until it returns (True) or `stopped()` (False). A fatal error raises
        `FatalKafkaError`; any other is handed to `refusal`, and the exception it returns is
        raised; when it returns None the failure is counted and logged as a retry, `pause` waits
        the backoff, and the backoff doubles up to `MAX_BACKOFF_S`."""
        backoff = first_backoff_s
        while not stopped():
            seconds = timeout()
            try:
                call(seconds)
            except KafkaException as exc:
                error = kafka_error(exc)
                if error.fatal():
                    raise FatalKafkaError(error, operation) from exc
                refused = refusal(error, backoff, seconds)
                if refused is not None:
                    raise refused from exc
                self._retrying(operation, error, backoff)
                pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            else:
                return True
        return False

    def _bounded(self, operation: str, call: TimedCall, timeout: float) -> None:
        """`call(timeout)` on the helper thread, waited for at most `timeout + WEDGE_GRACE_S`."""
        if self._worker is None:
            self._worker = _CallWorker()
        outcome = self._worker.run(lambda: call(timeout), timeout + self._wedge_grace_s)
        if isinstance(outcome, _StillRunning):
            # The thread is stuck inside librdkafka: leave it there (a daemon), and use a new one
            # with the new producer the caller makes (`abandon` retires this one).
            self._stuck, self._worker = self._worker, None
            self._metrics.kafka_retries.labels("producer_replaced").inc()
            raise ProducerWedgedError(operation, timeout + self._wedge_grace_s)
        if outcome is not None:
            raise outcome

    def abandon(self, producer: object) -> None:
        """Free a replaced producer without blocking the loop: destroying a producer waits for
        its call in flight, so the helper thread stuck in that call keeps it until the call
        returns, then drops it and ends; a producer not stuck is dropped by a short-lived
        thread (librdkafka's destroy joins its own threads)."""
        stuck, self._stuck = self._stuck, None
        if stuck is not None:
            stuck.retire(producer)
            self._retired.append(stuck)
        else:
            threading.Thread(
                target=_drop, args=(producer,), name="kafka-release", daemon=True
            ).start()
        self._metrics.abandoned_producers.set(self.abandoned())

    def abandoned(self) -> int:
        """Replaced producers whose stuck call has not returned yet."""
        self._retired = [worker for worker in self._retired if worker.alive]
        self._metrics.abandoned_producers.set(len(self._retired))
        return len(self._retired)

    def _timeout_until(self, deadline: float) -> float:
        return max(MIN_CALL_TIMEOUT_S, min(self._call_timeout_s, deadline - self._clock()))

    def _retrying(self, operation: str, error: KafkaError, backoff: float) -> None:
        self._metrics.kafka_retries.labels(operation).inc()
        self._readiness.set_broker_reachable(False, f"{operation}: {error.name()}")
        logger.warning(
            "Kafka call failed; retrying",
            extra={"operation": operation, "kafka_error": error.name(), "retry_in_s": backoff},
        )


class _StillRunning:
    """The call had not returned when its wait ended."""


_STILL_RUNNING: Final = _StillRunning()
_Outcome = BaseException | None | _StillRunning


def _drop(producer: object) -> None:
    """Holds the last reference to a replaced producer; it is destroyed as this thread ends."""
    del producer


class _CallWorker:
    """One daemon thread that runs one call at a time for the loop, which waits with a bound."""

    def __init__(self) -> None:
        # A call and where its outcome goes; no outcome: end the thread (`retire`).
        self._calls: queue.SimpleQueue[tuple[Callable[[], object], _Result | None]] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name="kafka-calls", daemon=True)
        self._thread.start()

    def run(self, call: Callable[[], object], wait_s: float) -> _Outcome:
        """None when the call returned, the exception it raised, or `_STILL_RUNNING`."""
        result = _Result()
        self._calls.put((call, result))
        if not result.done.wait(wait_s):
            return _STILL_RUNNING
        return result.error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def retire(self, keep: object) -> None:
        """End once the call in flight returns, dropping `keep` (its producer) then."""
        self._calls.put((lambda: keep, None))

    def _serve(self) -> None:
        while True:
            call, result = self._calls.get()
            if result is None:
                return  # retired: `call` (holding the replaced producer) goes with this frame
            try:
                call()
            except BaseException as error:  # handed to the caller's thread
                result.error = error
            result.done.set()


class _Result:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
