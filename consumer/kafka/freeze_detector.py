"""Noticing that this process was frozen (SIGSTOP, a VM paused, a stop-the-world pause).

A ticker thread records the largest gap between its ticks. A gap far longer than its period means
the whole process stood still: another member may have taken our partitions and the coordinator
may have aborted our transaction while we could not know. That is what makes a zombie, and the
exactly-once mode treats a fence after a freeze as final (exit 1) while it recovers from a fence
that came from the coordinator timing out a transaction while the broker was away.
"""

from __future__ import annotations

import threading
import time

from consumer.records import MonotonicClock

TICK_S = 0.5
FROZEN_AFTER_S = 5.0


class FreezeDetector:
    def __init__(
        self,
        clock: MonotonicClock = time.monotonic,
        frozen_after_s: float = FROZEN_AFTER_S,
    ) -> None:
        self._clock = clock
        self._frozen_after_s = frozen_after_s
        self._lock = threading.Lock()
        self._last_tick = clock()
        self._last_freeze_ended: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="freeze-detector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> None:
        """Record that the process ran now (the ticker thread calls this every TICK_S)."""
        now = self._clock()
        with self._lock:
            if now - self._last_tick > self._frozen_after_s:
                self._last_freeze_ended = now
            self._last_tick = now

    def frozen_since(self, moment: float) -> bool:
        """Whether the process was frozen at some point after `moment` (monotonic seconds)."""
        self.tick()
        with self._lock:
            return self._last_freeze_ended is not None and self._last_freeze_ended > moment

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            self.tick()
