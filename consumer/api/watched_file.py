"""A file the API re-reads when it changes, so credentials rotate without a restart.

A Kubernetes Secret volume updates by swapping a symlink (`..data` -> a new timestamped
directory), not by writing the file in place: `os.stat` follows the link, so the device, inode,
size and mtime of what the path resolves to change together and one comparison sees either kind
of update. The check is rate-limited (`check_interval_s`) so a request costs one clock read.
A changed file that does not parse leaves the previous content in force and is logged; a bad file
at start-up is an error, so the service never starts with credentials it cannot read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

Signature = tuple[int, int, int, int]


def _signature(path: Path) -> Signature:
    stat = path.stat()  # follows the symlink a Secret volume swaps
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class WatchedFile(Generic[T]):
    def __init__(
        self,
        path: Path,
        parse: Callable[[bytes], T],
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._parse = parse
        self._check_interval_s = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._signature = _signature(path)
        self._value = parse(path.read_bytes())  # errors here stop the start
        self._checked_at = clock()

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> T:
        """The parsed content, re-read first if the file changed since the last check."""
        with self._lock:
            now = self._clock()
            if now - self._checked_at >= self._check_interval_s:
                self._checked_at = now
                self._reload_if_changed()
            return self._value

    def _reload_if_changed(self) -> None:
        try:
            signature = _signature(self._path)
            if signature == self._signature:
                return
            value = self._parse(self._path.read_bytes())
        except (OSError, ValueError) as error:
            # The error names the file and the line, never its content (it holds credentials).
            logger.error(
                "credential file unreadable; the previous content stays in force",
                extra={"path": str(self._path), "error_type": type(error).__name__},
            )
            return
        self._signature, self._value = signature, value
        logger.info("credential file re-read", extra={"path": str(self._path)})
