"""Readiness: the answer `/readyz` gives, kept by the Kafka loop and read by the HTTP thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# No "error": librdkafka reports no failed assignment to the loop (a rebalance that cannot
# finish leaves the member pending, which the assignment bound below judges).
Assignment = Literal["pending", "assigned"]


@dataclass(frozen=True)
class ReadinessSnapshot:
    model_loaded: bool
    broker_reachable: bool
    assignment: Assignment
    assigned_partitions: int
    last_error: str | None
    stopping: bool
    # Why the input topic cannot be consumed (missing, not authorised), or None when it can.
    input_topic_problem: str | None = None
    # Seconds without any assigned partition beyond the configured bound, or None within it.
    unassigned_overdue_s: float | None = None
    # Why the brokers refuse us (authentication failed, certificate not trusted), or None.
    kafka_security_problem: str | None = None
    # "restoring state: P of N records" while a partition's state store catches up.
    restoring: str | None = None
    # Retry loops failing past their bound, each "LOOP failing for N s: cause" (kafka/
    # retry_bound.py): not ready until that loop succeeds again, whatever the broker's state.
    stalled: tuple[str, ...] = ()
    # False until the first sign either way (statistics, a client error, a producer or group
    # call): the first seconds after start say "connecting", not "not reachable".
    broker_known: bool = True

    @property
    def ready(self) -> bool:
        # "Assignment pending" is ready for a while: a rebalance takes seconds.
        # Beyond the configured bound it is not (a missing topic or an idle group member should
        # show on the dashboard and the NotReady alert, not pass for a healthy consumer).
        return (
            self.model_loaded
            and self.broker_reachable
            and not self.stopping
            and self.input_topic_problem is None
            and self.unassigned_overdue_s is None
            and self.kafka_security_problem is None
            and self.restoring is None
            and not self.stalled
        )

    def reasons(self) -> list[str]:
        """Why not ready, in words an operator can act on."""
        why = []
        if not self.model_loaded:
            why.append("model not loaded")
        if not self.broker_known:
            why.append("connecting to Kafka")
        elif not self.broker_reachable:
            why.append("Kafka broker not reachable")
        if self.kafka_security_problem is not None:
            why.append(self.kafka_security_problem)
        if self.input_topic_problem is not None:
            why.append(self.input_topic_problem)
        if self.unassigned_overdue_s is not None:
            why.append(f"no partition assigned for {self.unassigned_overdue_s:.0f} s")
        if self.restoring is not None:
            why.append(self.restoring)
        why.extend(self.stalled)
        if self.stopping:
            why.append("shutting down")
        return why


class Readiness:
    """Thread-safe readiness flags; each setter is called from where the fact is learnt.

    `assignment_timeout_s` bounds how long a member that is otherwise ready (model loaded, broker
    reachable) may hold no partition and still call itself ready; 0 disables the bound. The clock
    is injectable so the bound is unit-tested without waiting.
    """

    def __init__(
        self, *, assignment_timeout_s: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._assignment_timeout_s = assignment_timeout_s
        self._clock = clock
        self._model_loaded = False
        self._broker_reachable = False
        self._broker_known = False
        self._assignment: Assignment = "pending"
        self._assigned_partitions = 0
        self._last_error: str | None = None
        self._stopping = False
        self._input_topic_problem: str | None = None
        self._unassigned_since: float | None = None
        self._kafka_security_problem: str | None = None
        self._restoring: str | None = None
        self._stalled: dict[str, str] = {}

    def set_model_loaded(self, loaded: bool) -> None:
        with self._lock:
            self._model_loaded = loaded
            self._track_unassigned()

    def set_broker_reachable(self, reachable: bool, error: str | None = None) -> None:
        with self._lock:
            self._broker_reachable = reachable
            self._broker_known = True
            if reachable:
                # Connected, so authenticated and trusted: an earlier refusal is over, and so is
                # the error that made it unreachable (a stale _ALL_BROKERS_DOWN after recovery
                # misled); a retry loop failing past its bound keeps its cause.
                self._kafka_security_problem = None
                self._last_error = next(iter(self._stalled.values()), None)
            if error is not None:
                self._last_error = error
            self._track_unassigned()

    def set_kafka_security_problem(self, problem: str) -> None:
        """The brokers refused our credentials or we refused their certificate: a setting to
        fix, not an outage to wait out, so /readyz names it until a broker is reachable."""
        with self._lock:
            self._kafka_security_problem = problem
            self._broker_reachable = False
            self._broker_known = True
            self._last_error = problem
            self._track_unassigned()

    def set_assignment(self, state: Assignment, partitions: int) -> None:
        """The group coordinator gave (or took) partitions: it answered, so a broker is
        reachable, whatever the last statistics said."""
        with self._lock:
            self._assignment = state
            self._assigned_partitions = partitions
            if partitions > 0 and not self._broker_reachable:
                self._broker_reachable = self._broker_known = True
                self._last_error = next(iter(self._stalled.values()), None)
            self._track_unassigned()

    def set_input_topic_problem(self, problem: str | None) -> None:
        """What the metadata check found wrong with the input topic, or None once it is fine."""
        with self._lock:
            self._input_topic_problem = problem

    def set_restoring(self, progress: str | None) -> None:
        """What a state restore is doing ("restoring state: P of N records"), None once done:
        a member restoring would not score its partitions' next events yet."""
        with self._lock:
            self._restoring = progress

    def set_stalled(self, loop: str, cause: str | None) -> None:
        """A retry loop failing past its bound, with its cause; None once it succeeds. Sticky:
        nothing but that loop's next success clears it."""
        with self._lock:
            if cause is None:
                self._stalled.pop(loop, None)
            else:
                self._stalled[loop] = cause
                self._last_error = cause

    def set_stopping(self) -> None:
        with self._lock:
            self._stopping = True

    def _track_unassigned(self) -> None:
        # The wait starts once nothing else stands in the way of consuming, so model loading and
        # a broker outage are not counted against the assignment.
        waiting = self._model_loaded and self._broker_reachable and self._assigned_partitions == 0
        if not waiting:
            self._unassigned_since = None
        elif self._unassigned_since is None:
            self._unassigned_since = self._clock()

    def _unassigned_overdue_s(self) -> float | None:
        if self._assignment_timeout_s <= 0 or self._unassigned_since is None:
            return None
        waited = self._clock() - self._unassigned_since
        return waited if waited >= self._assignment_timeout_s else None

    def snapshot(self) -> ReadinessSnapshot:
        with self._lock:
            return ReadinessSnapshot(
                model_loaded=self._model_loaded,
                broker_reachable=self._broker_reachable,
                assignment=self._assignment,
                assigned_partitions=self._assigned_partitions,
                # A loop failing past its bound is the error that matters until it succeeds.
                last_error=next(iter(self._stalled.values()), self._last_error),
                stopping=self._stopping,
                # A partition of the input topic assigned proves the topic is there: the check's
                # metadata was older than the assignment (a topic just created).
                input_topic_problem=(
                    self._input_topic_problem if self._assigned_partitions == 0 else None
                ),
                unassigned_overdue_s=self._unassigned_overdue_s(),
                kafka_security_problem=self._kafka_security_problem,
                restoring=self._restoring,
                stalled=tuple(self._stalled.values()),
                broker_known=self._broker_known,
            )
