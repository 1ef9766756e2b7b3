"""The bound in time of a retry loop: a failure that outlasts it is not an outage to wait out but
a fault to report, and then to stop on.

Each loop that tries again after a failure (a batch read again after an abort, a state restore, a
producer's init_transactions) reports each failure and each success to its own `RetryBound`.
While failures last less than `unready_after_s`, nothing changes here: the loop's own readiness
inputs say what they say (a broker away for a few seconds is normal). Past it, `/readyz` answers
503 naming the loop and the cause (topic, partition, error) and keeps doing so until a success,
whatever the statistics callback says about the broker: the bound is the truth, not a broker
connection that is up while every batch fails (a deleted output topic, an ACL refusal, a restore
that cannot finish). `loan_scorer_retry_stalled{loop}` turns 1, which the `LoanScorerRetryStalled`
alert watches. Past `exit_after_s`, `failed` raises `RetryBoundExceeded`: the service logs one line
and exits 1, so the orchestrator restarts it and a crash loop is visible (CrashLoopBackOff).
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from prometheus_client import Gauge

from consumer.kafka.errors import StopScoringError
from consumer.records import MonotonicClock
from consumer.telemetry.readiness import Readiness

logger = logging.getLogger(__name__)


class RetryBoundExceeded(StopScoringError):  # noqa: N818  # a StopScoringError, named for ops
    """A retry loop kept failing past its exit bound."""


class RetryGauges(Protocol):
    """The two gauges of every retry loop, labelled by loop: the scorer's metrics
    (telemetry/metrics.py) and the outcomes joiner's (outcomes/metrics.py) both have them."""

    @property
    def retry_failing_seconds(self) -> Gauge: ...

    @property
    def retry_stalled(self) -> Gauge: ...


class RetryBound:
    """`readiness` None: a process without a readiness probe (the outcomes joiner), where the
    metric, the log line and the exit are what ops see."""

    def __init__(
        self,
        loop: str,
        *,
        unready_after_s: float,
        exit_after_s: float,
        readiness: Readiness | None,
        metrics: RetryGauges,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._loop = loop
        self._unready_after_s = unready_after_s
        self._exit_after_s = exit_after_s
        self._readiness = readiness
        self._metrics = metrics
        self._clock = clock
        self._since: float | None = None
        self._stalled = False
        metrics.retry_failing_seconds.labels(loop).set(0)
        metrics.retry_stalled.labels(loop).set(0)

    @property
    def failing_for_s(self) -> float:
        return 0.0 if self._since is None else self._clock() - self._since

    def failed(self, cause: str) -> None:
        """One more failure; raises `RetryBoundExceeded` once failures have lasted past the exit
        bound (counted from the first failure since the last success)."""
        now = self._clock()
        if self._since is None:
            self._since = now
        failing_s = now - self._since
        self._metrics.retry_failing_seconds.labels(self._loop).set(failing_s)
        if failing_s >= self._exit_after_s:
            raise RetryBoundExceeded(
                f"{self._loop} failing for {failing_s:.0f} s "
                f"(bound {self._exit_after_s:.0f} s): {cause}"
            )
        if failing_s >= self._unready_after_s:
            if not self._stalled:
                logger.error(
                    "retry loop failing past its bound; stalled",
                    extra={"loop": self._loop, "failing_s": round(failing_s), "cause": cause},
                )
            self._stalled = True
            self._metrics.retry_stalled.labels(self._loop).set(1)
            if self._readiness is not None:
                self._readiness.set_stalled(
                    self._loop, f"{self._loop} failing for {failing_s:.0f} s: {cause}"
                )

    def succeeded(self) -> None:
        if self._since is None:
            return
        if self._stalled:
            logger.info(
                "retry loop recovered",
                extra={"loop": self._loop, "failed_for_s": round(self.failing_for_s)},
            )
        self._since = None
        self._stalled = False
        self._metrics.retry_failing_seconds.labels(self._loop).set(0)
        self._metrics.retry_stalled.labels(self._loop).set(0)
        if self._readiness is not None:
            self._readiness.set_stalled(self._loop, None)
