"""One input partition's scored event ids, on disk: a RocksDB database (rocksdict) per partition.

Layout, all bytes (raw mode):

- key: the `event_id`, UTF-8;
- value, 32 bytes: `scored_at_ms` u64 big-endian | content hash, 16 bytes | input offset i64
  big-endian. A hash of 16 zero bytes means "unknown" (ids restored from changelog records that
  carry no hash); an input offset of -1 means unknown too;
- one column family per time bucket, `ids-<floor(scored_at_ms / bucket_ms)>`, so expiry drops a
  whole column family instead of sweeping keys. A lookup multi-gets the live buckets newest first
  and treats an id scored before `now - window` as absent, so the window is exact even before its
  bucket is dropped;
- a `meta` column family: `changelog_next_offset` (i64 big-endian), `bucket_s` and `format`
  (u64 big-endian). `apply` writes a batch's ids and the changelog offset they reach in **one
  WriteBatch**, as Quix Streams does: whatever survives a crash, data and offset agree.

The store is a cache of the changelog topic, which is the truth: it is updated only after a
changelog write was committed, so it is never ahead of it, and a store that is lost, corrupt or
incompatible is destroyed and restored from the changelog. Nothing here talks to Kafka.

Two rocksdict traps (design memo, section 2) shape `open` and `close`: every existing column
family is passed at open with our options (otherwise they open with the OPTIONS file's settings
and an 8 MiB cache of their own, and the bloom filter is silently off), and every column family
object is dropped before `close` (otherwise the database stays open and keeps its lock).
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, NoReturn, Self, cast

from rocksdict import ColumnFamily, Rdict, WriteBatch

from consumer.records import EpochClock
from consumer.state.errors import (
    StateError,
    StoreCorruptedError,
    StoreIncompatibleError,
    StoreLockedError,
    StoreOpenError,
)
from consumer.state.hashing import CONTENT_HASH_BYTES, UNKNOWN_CONTENT_HASH
from consumer.state.options import StoreOptions, shared_options

logger = logging.getLogger(__name__)

STORE_FORMAT: Final = 1
META_CF: Final = "meta"
BUCKET_CF_PREFIX: Final = "ids-"
# Fewer buckets per window would keep more expired ids on disk (up to a bucket's worth); more would
# cost a multi-get each per lookup. Seven per window: at most eight live, one day each for the
# 7-day default.
BUCKETS_PER_WINDOW: Final = 7
UNKNOWN_INPUT_OFFSET: Final = -1

_VALUE: Final = struct.Struct(f">Q{CONTENT_HASH_BYTES}sq")
_U64: Final = struct.Struct(">Q")
_I64: Final = struct.Struct(">q")
_KEY_NEXT_OFFSET: Final = b"changelog_next_offset"
_KEY_BUCKET_S: Final = b"bucket_s"
_KEY_FORMAT: Final = b"format"

# An open that fails on the lock is retried: on a rebalance the previous owner (another process, or
# this one closing the partition) may still hold it for a moment. Bounded, as Quix Streams does:
# 10 attempts, 3 s apart by default.
DEFAULT_OPEN_ATTEMPTS: Final = 10
DEFAULT_OPEN_BACKOFF_S: Final = 3.0


@dataclass(frozen=True, slots=True)
class ScoredId:
    """What the store knows of a scored event id."""

    scored_at_s: float  # epoch seconds; stored to the millisecond
    content_hash: bytes  # 16 bytes; UNKNOWN_CONTENT_HASH when not known
    input_offset: int  # the input record's offset; UNKNOWN_INPUT_OFFSET when not known

    def __post_init__(self) -> None:
        if len(self.content_hash) != CONTENT_HASH_BYTES:
            raise ValueError(
                f"a content hash has {CONTENT_HASH_BYTES} bytes, got {len(self.content_hash)}"
            )
        if self.scored_at_s < 0:
            raise ValueError(f"scored_at_s must not be negative, got {self.scored_at_s}")

    @property
    def content_known(self) -> bool:
        return self.content_hash != UNKNOWN_CONTENT_HASH


def encode_value(scored: ScoredId) -> bytes:
    """The 32-byte value stored under an event id."""
    return _VALUE.pack(_to_ms(scored.scored_at_s), scored.content_hash, scored.input_offset)


def decode_value(value: bytes) -> ScoredId:
    scored_at_ms, digest, input_offset = _VALUE.unpack(value)
    return ScoredId(scored_at_s=scored_at_ms / 1000, content_hash=digest, input_offset=input_offset)


def bucket_seconds(window_s: float) -> int:
    """The bucket size for a window: a seventh of it, in whole seconds, at least one."""
    return max(1, int(window_s // BUCKETS_PER_WINDOW))


def _to_ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)


def _bucket_cf(bucket: int) -> str:
    return f"{BUCKET_CF_PREFIX}{bucket}"


def _bucket_of_cf(name: str) -> int | None:
    if not name.startswith(BUCKET_CF_PREFIX):
        return None
    try:
        return int(name.removeprefix(BUCKET_CF_PREFIX))
    except ValueError:
        return None


def _is_corruption(message: str) -> bool:
    return message.startswith("Corruption")


def _is_lock_error(message: str) -> bool:
    # Same process: "IO error: lock hold by current process, ... /LOCK: No locks available".
    # Another process: "IO error: While lock file: .../LOCK: Resource temporarily unavailable".
    return message.startswith("IO error") and "lock" in message.lower()


class _OpenDb:
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


class PartitionStore:
    """The scored ids of one input partition, in `path` (a directory of its own).

    Not thread-safe: one owner (the scorer loop) calls it. Use `open()` / `close()` or `with`.
    """

    def __init__(
        self,
        path: Path,
        *,
        window_s: float,
        bucket_s: int | None = None,
        options: StoreOptions | None = None,
        clock: EpochClock = time.time,
        open_attempts: int = DEFAULT_OPEN_ATTEMPTS,
        open_backoff_s: float = DEFAULT_OPEN_BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        if open_attempts < 1:
            raise ValueError(f"open_attempts must be at least 1, got {open_attempts}")
        self.path = path
        self.window_s = window_s
        self.bucket_s = bucket_s if bucket_s is not None else bucket_seconds(window_s)
        if self.bucket_s < 1:
            raise ValueError(f"bucket_s must be at least 1, got {self.bucket_s}")
        self._window_ms = _to_ms(window_s)
        self._bucket_ms = self.bucket_s * 1000
        self._options = options if options is not None else shared_options()
        self._clock = clock
        self._open_attempts = open_attempts
        self._open_backoff_s = open_backoff_s
        self._sleep = sleep
        self._open: _OpenDb | None = None
        self._next_offset: int | None = None

    # -- life cycle

    def open(self) -> None:
        """Open (or create) the store.

        Raises StoreCorruptedError when RocksDB reports corruption, StoreLockedError when the lock
        is still held after `open_attempts` tries, StoreIncompatibleError when the store was
        written with another format or bucket size, StoreOpenError for anything else.
        """
        if self._open is not None:
            raise StateError(f"the state store at {self.path} is already open")
        db, names = self._open_with_retries()
        opened: _OpenDb | None = None
        try:
            opened = _OpenDb(db)
            for name in names:
                bucket = _bucket_of_cf(name)
                if bucket is not None:
                    opened.buckets[bucket] = db.get_column_family(name)
                    opened.handles[bucket] = db.get_column_family_handle(name)
            next_offset = self._read_meta(opened)
        except BaseException:
            if opened is not None:
                opened.release_column_families()
            _close_quietly(db)
            raise
        self._open = opened
        self._next_offset = next_offset
        logger.debug(
            "opened state store %s: %d bucket(s), changelog next offset %s",
            self.path,
            len(opened.buckets),
            self._next_offset,
        )

    def close(self) -> None:
        """Close the store and release its lock; a closed store may be opened again. Idempotent.

        Unsynced WAL writes reach the OS before `apply` returns, so a closed store survives the
        process; call `flush_wal` first if it must survive a power cut (before a checkpoint).
        """
        opened, self._open = self._open, None
        if opened is None:
            return
        db = opened.db
        # Every column family object keeps the database (and its lock) alive: drop them first.
        opened.release_column_families()
        del opened
        _close_quietly(db)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._open is not None

    @staticmethod
    def destroy(path: Path) -> None:
        """Delete a (closed) store's directory and everything in it; nothing if it is missing.

        The whole directory rather than RocksDB's DestroyDB: a corrupt store is what is destroyed
        most often, and the directory belongs to the store alone.
        """
        if path.exists():
            shutil.rmtree(path)
            logger.info("destroyed state store %s", path)

    # -- reads and writes

    @property
    def next_changelog_offset(self) -> int | None:
        """The changelog offset the store's contents reach (the next one to apply), or None when no
        batch was ever applied."""
        self._require_open()
        return self._next_offset

    def lookup(self, event_ids: Collection[str]) -> dict[str, ScoredId]:
        """The ids among `event_ids` scored within the window, with what is known of them."""
        opened = self._require_open()
        if not event_ids:
            return {}
        cutoff_ms = _to_ms(self._clock()) - self._window_ms
        pending = list(dict.fromkeys(event_ids))
        keys = [event_id.encode() for event_id in pending]
        found: dict[str, ScoredId] = {}
        for bucket in sorted(opened.buckets, reverse=True):
            if not pending or (bucket + 1) * self._bucket_ms <= cutoff_ms:
                break  # this bucket and every older one end before the window
            try:
                values = _multi_get(opened.buckets[bucket], keys)
            except Exception as exc:  # rocksdict raises plain Exception
                _raise_read_write_error(self.path, "read", exc)
            still_pending: list[str] = []
            still_keys: list[bytes] = []
            for event_id, key, value in zip(pending, keys, values, strict=True):
                if value is None:
                    still_pending.append(event_id)
                    still_keys.append(key)
                    continue
                scored = decode_value(value)
                # The newest bucket holding the id decides: an id scored before the window is
                # absent, even while its bucket is still on disk.
                if _to_ms(scored.scored_at_s) >= cutoff_ms:
                    found[event_id] = scored
            pending, keys = still_pending, still_keys
        return found

    def apply(self, entries: Mapping[str, ScoredId], next_changelog_offset: int) -> int:
        """Store committed ids and the changelog offset they reach, in one atomic write.

        `next_changelog_offset` is the offset after the last changelog record these entries come
        from. Ids already out of the window are not written (the offset still is). Returns the
        number of ids written.
        """
        opened = self._require_open()
        if next_changelog_offset < 0:
            raise ValueError(f"next_changelog_offset must be >= 0, got {next_changelog_offset}")
        cutoff_ms = _to_ms(self._clock()) - self._window_ms
        newest_before = max(opened.buckets, default=None)
        batch = WriteBatch(raw_mode=True)
        written = 0
        try:
            for event_id, scored in entries.items():
                scored_at_ms = _to_ms(scored.scored_at_s)
                if scored_at_ms < cutoff_ms:
                    continue
                handle = self._bucket_handle(opened, scored_at_ms // self._bucket_ms)
                batch.put(event_id.encode(), encode_value(scored), handle)
                written += 1
            batch.put(_KEY_NEXT_OFFSET, _I64.pack(next_changelog_offset), opened.meta_handle)
            opened.db.write(batch)
        except Exception as exc:  # rocksdict raises plain Exception
            _raise_read_write_error(self.path, "write", exc)
        self._next_offset = next_changelog_offset
        newest = max(opened.buckets, default=None)
        if newest_before is not None and newest is not None and newest > newest_before:
            self._flush_older_buckets(opened, newest)
        return written

    def expire(self, now_s: float | None = None) -> int:
        """Drop the bucket column families that end before `now - window`; returns how many.

        Cheap when there is nothing to drop; the owner calls it about once a second.
        """
        opened = self._require_open()
        now = self._clock() if now_s is None else now_s
        cutoff_ms = _to_ms(now) - self._window_ms
        expired = [b for b in sorted(opened.buckets) if (b + 1) * self._bucket_ms <= cutoff_ms]
        for bucket in expired:
            # The column family's files are freed only once no object refers to it.
            del opened.buckets[bucket], opened.handles[bucket]
            opened.db.drop_column_family(_bucket_cf(bucket))
        if expired:
            logger.debug("state store %s dropped expired buckets %s", self.path, expired)
        return len(expired)

    # -- what ops see

    def approximate_ids(self) -> int:
        """RocksDB's estimate of the ids held, over the buckets still on disk (it may count ids
        already out of the window and overwritten ones until compaction)."""
        opened = self._require_open()
        return sum(
            cf.property_int_value("rocksdb.estimate-num-keys") or 0
            for cf in opened.buckets.values()
        )

    def live_buckets(self) -> list[int]:
        """The bucket numbers whose column families exist, oldest first."""
        return sorted(self._require_open().buckets)

    def bytes_on_disk(self) -> int:
        """The size of the store's directory, WAL included (table sizes read 0 until the first
        flush: the data is in the memtables and the WAL). Works on a closed store too."""
        return sum(_file_sizes(self.path))

    def flush_wal(self) -> None:
        """Write the WAL to disk and fsync it: what `apply` stored survives a power cut."""
        self._require_open().db.flush_wal(True)

    # -- internals

    def _require_open(self) -> _OpenDb:
        if self._open is None:
            raise StateError(f"the state store at {self.path} is not open")
        return self._open

    def _open_with_retries(self) -> tuple[Rdict, list[str]]:
        for attempt in range(1, self._open_attempts + 1):
            try:
                return self._open_once()
            except Exception as exc:  # rocksdict raises plain Exception
                message = str(exc)
                if _is_corruption(message):
                    raise StoreCorruptedError(self.path, message) from exc
                if not _is_lock_error(message):
                    raise StoreOpenError(self.path, message) from exc
                if attempt == self._open_attempts:
                    raise StoreLockedError(
                        self.path, f"{message} (after {attempt} attempts)"
                    ) from exc
                logger.warning(
                    "state store %s is locked (attempt %d of %d), retrying in %.1f s",
                    self.path,
                    attempt,
                    self._open_attempts,
                    self._open_backoff_s,
                )
                self._sleep(self._open_backoff_s)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _open_once(self) -> tuple[Rdict, list[str]]:
        """The database and the names of its column families."""
        options = self._options.rocksdb
        names: list[str] = []
        if (self.path / "CURRENT").exists():
            names = Rdict.list_cf(str(self.path), options)
        # Every existing column family, with our options: see the module docstring.
        column_families = dict.fromkeys(names, options)
        column_families.setdefault(META_CF, options)
        self.path.mkdir(parents=True, exist_ok=True)
        return Rdict(str(self.path), options, column_families=column_families), names

    def _read_meta(self, opened: _OpenDb) -> int | None:
        stored_format, stored_bucket_s, stored_offset = _multi_get(
            opened.meta, [_KEY_FORMAT, _KEY_BUCKET_S, _KEY_NEXT_OFFSET]
        )
        if stored_format is None:
            if stored_offset is not None or opened.buckets:
                raise StoreIncompatibleError(self.path, "it holds data but no format in meta")
            batch = WriteBatch(raw_mode=True)
            batch.put(_KEY_FORMAT, _U64.pack(STORE_FORMAT), opened.meta_handle)
            batch.put(_KEY_BUCKET_S, _U64.pack(self.bucket_s), opened.meta_handle)
            opened.db.write(batch)
            return None
        (found_format,) = _U64.unpack(stored_format)
        if found_format != STORE_FORMAT:
            raise StoreIncompatibleError(
                self.path, f"format {found_format}, this version reads {STORE_FORMAT}"
            )
        found_bucket_s = _U64.unpack(stored_bucket_s)[0] if stored_bucket_s is not None else None
        if found_bucket_s != self.bucket_s:
            raise StoreIncompatibleError(
                self.path, f"bucket_s {found_bucket_s}, configured {self.bucket_s}"
            )
        return None if stored_offset is None else int(_I64.unpack(stored_offset)[0])

    def _bucket_handle(self, opened: _OpenDb, bucket: int) -> ColumnFamily:
        handle = opened.handles.get(bucket)
        if handle is None:
            name = _bucket_cf(bucket)
            opened.buckets[bucket] = opened.db.create_column_family(name, self._options.rocksdb)
            handle = opened.handles[bucket] = opened.db.get_column_family_handle(name)
        return handle

    def _flush_older_buckets(self, opened: _OpenDb, newest: int) -> None:
        """A new bucket started: flush the older ones and `meta`, so their memtables stop pinning
        WAL files (the expiry simulation grew to 148 MB on disk without this, 27 to 29 MB with it).
        """
        started = time.perf_counter()
        for bucket, cf in opened.buckets.items():
            if bucket != newest:
                cf.flush(True)
        opened.meta.flush(True)
        logger.debug(
            "state store %s: bucket %d started, older buckets flushed in %.1f ms",
            self.path,
            newest,
            (time.perf_counter() - started) * 1000,
        )


_RdictKey = str | int | float | bytes | bool


def _multi_get(cf: Rdict, keys: list[bytes]) -> list[bytes | None]:
    """One multi-get: the values in the order of `keys`, None where a key is missing."""
    # rocksdict's stubs type keys as a list of every key type and the result as Any.
    return cast("list[bytes | None]", cf.get(cast("list[_RdictKey]", keys)))


def _close_quietly(db: Rdict) -> None:
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


def _raise_read_write_error(path: Path, action: str, exc: Exception) -> NoReturn:
    message = str(exc)
    if _is_corruption(message):
        raise StoreCorruptedError(path, f"{action} failed: {message}") from exc
    raise StateError(f"state store {path}: {action} failed: {message}") from exc


def _file_sizes(root: Path) -> Iterator[int]:
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _file_sizes(Path(entry.path))
            else:
                yield entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue  # deleted by a compaction or a WAL recycle while we walked
