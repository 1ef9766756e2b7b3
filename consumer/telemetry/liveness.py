"""Liveness: whether the Kafka loop still makes progress, the answer `/healthz` gives.

The loop beats once per iteration (a batch committed or aborted, or an idle poll). Every call in
an iteration is bounded, so an iteration that has not ended after `stall_after_s` means a loop
stuck somewhere no bound covers; `/healthz` then fails so the orchestrator restarts the process.
Before the loop starts (model loading) nothing is watched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Liveness:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._stall_after_s: float | None = None
        self._last_beat = clock()

    def watch(self, stall_after_s: float) -> None:
        """Start expecting a beat at least every `stall_after_s` seconds."""
        with self._lock:
            self._stall_after_s = stall_after_s
            self._last_beat = self._clock()

    def beat(self) -> None:
        with self._lock:
            self._last_beat = self._clock()

    def stalled_for(self) -> float | None:
        """Seconds since the last beat if that is longer than allowed, else None."""
        with self._lock:
            if self._stall_after_s is None:
                return None
            since = self._clock() - self._last_beat
            return since if since > self._stall_after_s else None
