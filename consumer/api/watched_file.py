"""A file the API re-reads when it changes, so credentials rotate without a restart.

A Kubernetes Secret volume updates by swapping a symlink (`..data` -> a new timestamped
directory), not by writing the file in place: `os.stat` follows the link, so the device, inode,
size and mtime of what the path resolves to change together and one comparison sees either kind
of update. The check is rate-limited (`check_interval_s`) so a request costs one clock read.
A file that goes missing or stops parsing fails closed: `current()` answers None (the caller
refuses every credential) and the reason is logged once, until a valid file is back. Keeping the
previous content instead would make revocation impossible by deleting or emptying the file, the
very moves an operator makes in a hurry. A bad file at start-up is an error, so the service never
starts with credentials it cannot read.
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
# The signature of a file that could not be stat'ed (missing): any file that appears differs.
_MISSING: Signature = (-1, -1, -1, -1)


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
        self._value: T | None = parse(path.read_bytes())  # errors here stop the start
        self._checked_at = clock()

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> T | None:
        """The parsed content, re-read first if the file changed since the last check; None
        while the file is missing or does not parse (refuse everything)."""
        with self._lock:
            now = self._clock()
            if now - self._checked_at >= self._check_interval_s:
                self._checked_at = now
                self._reload_if_changed()
            return self._value

    def _reload_if_changed(self) -> None:
        try:
            signature = _signature(self._path)
        except OSError as error:
            self._fail(_MISSING, error)
            return
        if signature == self._signature:
            return
        try:
            value = self._parse(self._path.read_bytes())
        except (OSError, ValueError) as error:
            self._fail(signature, error)
            return
        self._signature, self._value = signature, value
        logger.info("credential file re-read", extra={"path": str(self._path)})

    def _fail(self, signature: Signature, error: Exception) -> None:
        """Refuse everything until the file changes again; log once per bad state."""
        if signature == self._signature and self._value is None:
            return
        self._signature, self._value = signature, None
        # The error names the file and the class, never its content (it holds credentials).
        logger.error(
            "credential file missing or unparsable; every credential it held is refused "
            "until a valid file is back",
            extra={"path": str(self._path), "error_type": type(error).__name__},
        )
