"""Stopping on SIGTERM/SIGINT within a bound, so a stuck shutdown cannot hold a pod forever."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Protocol

logger = logging.getLogger(__name__)


class Stoppable(Protocol):
    def request_stop(self) -> None: ...


class ShutdownGuard:
    """First SIGTERM/SIGINT: stop gracefully, with a watchdog that ends the process if that
    takes longer than the bound. A second signal: stop now."""

    def __init__(self, loop: Stoppable, timeout_s: float, exit_code: int) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._exit_code = exit_code
        self._watchdog: threading.Timer | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._watchdog is not None:
            logger.warning("second signal; exiting now", extra={"signal": signum})
            os._exit(128 + signum)
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        self._watchdog = threading.Timer(self._timeout_s, self._overran)
        self._watchdog.daemon = True
        self._watchdog.start()
        self._loop.request_stop()

    def _overran(self) -> None:
        logger.error("graceful shutdown overran its bound", extra={"bound_s": self._timeout_s})
        os._exit(self._exit_code)

    def cancel(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
