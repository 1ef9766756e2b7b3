"""Readiness: the answer `/readyz` gives, kept by the Kafka loop and read by the HTTP thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Assignment = Literal["pending", "assigned", "error"]


@dataclass(frozen=True)
class ReadinessSnapshot:
    model_loaded: bool
    broker_reachable: bool
    assignment: Assignment
    assigned_partitions: int
    last_error: str | None
    stopping: bool

    @property
    def ready(self) -> bool:
        # "Assignment pending without error" is ready: a scaled-out member may rightly own no
        # partition, and failing its probe would make Kubernetes restart a healthy pod.
        return (
            self.model_loaded
            and self.broker_reachable
            and self.assignment != "error"
            and not self.stopping
        )

    def reasons(self) -> list[str]:
        """Why not ready, in words an operator can act on."""
        why = []
        if not self.model_loaded:
            why.append("model not loaded")
        if not self.broker_reachable:
            why.append("Kafka broker not reachable")
        if self.assignment == "error":
            why.append("consumer group assignment failed")
        if self.stopping:
            why.append("shutting down")
        return why


class Readiness:
    """Thread-safe readiness flags; each setter is called from where the fact is learnt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model_loaded = False
        self._broker_reachable = False
        self._assignment: Assignment = "pending"
        self._assigned_partitions = 0
        self._last_error: str | None = None
        self._stopping = False

    def set_model_loaded(self, loaded: bool) -> None:
        with self._lock:
            self._model_loaded = loaded

    def set_broker_reachable(self, reachable: bool, error: str | None = None) -> None:
        with self._lock:
            self._broker_reachable = reachable
            if error is not None:
                self._last_error = error

    def set_assignment(self, state: Assignment, partitions: int, error: str | None = None) -> None:
        with self._lock:
            self._assignment = state
            self._assigned_partitions = partitions
            if error is not None:
                self._last_error = error

    def set_stopping(self) -> None:
        with self._lock:
            self._stopping = True

    def snapshot(self) -> ReadinessSnapshot:
        with self._lock:
            return ReadinessSnapshot(
                model_loaded=self._model_loaded,
                broker_reachable=self._broker_reachable,
                assignment=self._assignment,
                assigned_partitions=self._assigned_partitions,
                last_error=self._last_error,
                stopping=self._stopping,
            )
