"""rocksdict's edges: what its errors mean, a typed multi-get, closing that releases the lock."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, NoReturn, cast

from rocksdict import ColumnFamily, Options, Rdict

from consumer.state.errors import (
    StateError,
    StoreCorruptedError,
    StoreLockedError,
    StoreOpenError,
)

logger = logging.getLogger(__name__)

META_CF: Final = "meta"


def is_corruption(message: str) -> bool:
    return message.startswith("Corruption")


def is_lock_error(message: str) -> bool:
    # Same process: "IO error: lock hold by current process, ... /LOCK: No locks available".
    # Another process: "IO error: While lock file: .../LOCK: Resource temporarily unavailable".
    return message.startswith("IO error") and "lock" in message.lower()


_RdictKey = str | int | float | bytes | bool


def multi_get(cf: Rdict, keys: list[bytes]) -> list[bytes | None]:
    """One multi-get: the values in the order of `keys`, None where a key is missing."""
    # rocksdict's stubs type keys as a list of every key type and the result as Any.
    return cast("list[bytes | None]", cf.get(cast("list[_RdictKey]", keys)))


def close_quietly(db: Rdict) -> None:
    """Cancel background flushes and compactions, then close: the lock is released in
    milliseconds instead of after pending compactions (what is not flushed is in the WAL)."""
    try:
        db.cancel_all_background(True)
        db.close()
    except Exception as exc:  # rocksdict raises plain Exception
        # After cancel_all_background, close reports "Shutdown in progress" (it cannot flush the
        # memtables) but does close and release the lock, as a reopen in the same process shows.
        if "shutdown in progress" not in str(exc).lower():
            raise


def raise_read_write_error(path: Path, action: str, exc: Exception) -> NoReturn:
    message = str(exc)
    if is_corruption(message):
        raise StoreCorruptedError(path, f"{action} failed: {message}") from exc
    raise StateError(f"state store {path}: {action} failed: {message}") from exc


def file_sizes(root: Path) -> Iterator[int]:
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from file_sizes(Path(entry.path))
            else:
                yield entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue  # deleted by a compaction or a WAL recycle while we walked


class OpenDb:
    """The open database and every column family object taken from it, dropped together."""

    def __init__(self, db: Rdict) -> None:
        self.db = db
        self.meta = db.get_column_family(META_CF)
        self.meta_handle = db.get_column_family_handle(META_CF)
        self.buckets: dict[int, Rdict] = {}
        self.handles: dict[int, ColumnFamily] = {}

    def release_column_families(self) -> None:
        self.buckets.clear()
        self.handles.clear()
        del self.meta, self.meta_handle


def open_db(
    path: Path,
    options: Options,
    *,
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Rdict, list[str]]:
    """The database at `path` and the names of its column families, every one opened with our
    options (opened without them, they take the OPTIONS file's settings and an 8 MiB cache of
    their own: the bloom filter is silently off). A lock still held is retried `attempts` times;
    corruption and any other failure raise at once."""
    for attempt in range(1, attempts + 1):
        try:
            return _open_once(path, options)
        except Exception as exc:  # rocksdict raises plain Exception
            message = str(exc)
            if is_corruption(message):
                raise StoreCorruptedError(path, message) from exc
            if not is_lock_error(message):
                raise StoreOpenError(path, message) from exc
            if attempt == attempts:
                raise StoreLockedError(path, f"{message} (after {attempt} attempts)") from exc
            logger.warning(
                "state store %s is locked (attempt %d of %d), retrying in %.1f s",
                path,
                attempt,
                attempts,
                backoff_s,
            )
            sleep(backoff_s)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _open_once(path: Path, options: Options) -> tuple[Rdict, list[str]]:
    names: list[str] = []
    if (path / "CURRENT").exists():
        names = Rdict.list_cf(str(path), options)
    column_families = dict.fromkeys(names, options)
    column_families.setdefault(META_CF, options)
    path.mkdir(parents=True, exist_ok=True)
    return Rdict(str(path), options, column_families=column_families), names
