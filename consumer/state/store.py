"""One input partition's scored ids, on disk: a RocksDB database (rocksdict) per partition.

Keys and values are in scored_id.py: an id's 32-byte value lives in the column family of its
time bucket, so expiry drops a whole column family instead of sweeping keys, and a lookup reads
the live buckets newest first, treating an id scored before `now - window` as absent (the window
is exact before its bucket is dropped). A `meta` column family holds `changelog_next_offset`,
`bucket_s` and `format`; `apply` writes ids and that offset in **one WriteBatch**, as Quix
Streams does: whatever survives a crash, data and offset agree.

The store is a cache of the changelog topic, which is the truth: it is updated only after a
changelog write was committed, so it is never ahead of it, and a store that is lost, corrupt or
incompatible is destroyed and restored from the changelog (partitions.py). Nothing here talks to
Kafka. How rocksdict is opened and closed (every column family with our options; every column
family object dropped before `close`, or the lock stays held) is rocks.py.
"""

from __future__ import annotations

import logging
import shutil
import struct
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from rocksdict import ColumnFamily, WriteBatch

from consumer.records import EpochClock
from consumer.state.errors import (
    StateError,
    StoreIncompatibleError,
)
from consumer.state.options import StoreOptions, shared_options
from consumer.state.rocks import (
    OpenDb,
    close_quietly,
    file_sizes,
    multi_get,
    open_db,
    raise_read_write_error,
)
from consumer.state.scored_id import (
    ScoredId,
    bucket_cf,
    bucket_of_cf,
    bucket_seconds,
    decode_value,
    encode_value,
    to_ms,
)

logger = logging.getLogger(__name__)

STORE_FORMAT: Final = 1
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
        self._window_ms = to_ms(window_s)
        self._bucket_ms = self.bucket_s * 1000
        self._options = options if options is not None else shared_options()
        self._clock = clock
        self._open_attempts = open_attempts
        self._open_backoff_s = open_backoff_s
        self._sleep = sleep
        self._open: OpenDb | None = None
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
        db, names = open_db(
            self.path,
            self._options.rocksdb,
            attempts=self._open_attempts,
            backoff_s=self._open_backoff_s,
            sleep=self._sleep,
        )
        opened: OpenDb | None = None
        try:
            opened = OpenDb(db)
            for name in names:
                bucket = bucket_of_cf(name)
                if bucket is not None:
                    opened.buckets[bucket] = db.get_column_family(name)
                    opened.handles[bucket] = db.get_column_family_handle(name)
            next_offset = self._read_meta(opened)
        except BaseException:
            if opened is not None:
                opened.release_column_families()
            close_quietly(db)
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
        close_quietly(db)

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
        cutoff_ms = to_ms(self._clock()) - self._window_ms
        pending = list(dict.fromkeys(event_ids))
        keys = [event_id.encode() for event_id in pending]
        found: dict[str, ScoredId] = {}
        for bucket in sorted(opened.buckets, reverse=True):
            if not pending or (bucket + 1) * self._bucket_ms <= cutoff_ms:
                break  # this bucket and every older one end before the window
            try:
                values = multi_get(opened.buckets[bucket], keys)
            except Exception as exc:  # rocksdict raises plain Exception
                raise_read_write_error(self.path, "read", exc)
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
                if to_ms(scored.scored_at_s) >= cutoff_ms:
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
        cutoff_ms = to_ms(self._clock()) - self._window_ms
        newest_before = max(opened.buckets, default=None)
        batch = WriteBatch(raw_mode=True)
        written = 0
        try:
            for event_id, scored in entries.items():
                scored_at_ms = to_ms(scored.scored_at_s)
                if scored_at_ms < cutoff_ms:
                    continue
                handle = self._bucket_handle(opened, scored_at_ms // self._bucket_ms)
                batch.put(event_id.encode(), encode_value(scored), handle)
                written += 1
            batch.put(_KEY_NEXT_OFFSET, _I64.pack(next_changelog_offset), opened.meta_handle)
            opened.db.write(batch)
        except Exception as exc:  # rocksdict raises plain Exception
            raise_read_write_error(self.path, "write", exc)
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
        cutoff_ms = to_ms(now) - self._window_ms
        expired = [b for b in sorted(opened.buckets) if (b + 1) * self._bucket_ms <= cutoff_ms]
        for bucket in expired:
            # The column family's files are freed only once no object refers to it.
            del opened.buckets[bucket], opened.handles[bucket]
            opened.db.drop_column_family(bucket_cf(bucket))
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
        return sum(file_sizes(self.path))

    def flush_wal(self) -> None:
        """Write the WAL to disk and fsync it: what `apply` stored survives a power cut."""
        self._require_open().db.flush_wal(True)

    # -- internals

    def _require_open(self) -> OpenDb:
        if self._open is None:
            raise StateError(f"the state store at {self.path} is not open")
        return self._open

    def _read_meta(self, opened: OpenDb) -> int | None:
        stored_format, stored_bucket_s, stored_offset = multi_get(
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

    def _bucket_handle(self, opened: OpenDb, bucket: int) -> ColumnFamily:
        handle = opened.handles.get(bucket)
        if handle is None:
            name = bucket_cf(bucket)
            opened.buckets[bucket] = opened.db.create_column_family(name, self._options.rocksdb)
            handle = opened.handles[bucket] = opened.db.get_column_family_handle(name)
        return handle

    def _flush_older_buckets(self, opened: OpenDb, newest: int) -> None:
        """A new bucket started: flush the older ones and `meta`, so their memtables stop pinning
        WAL files (the expiry simulation grew to 148 MB on disk without this, 27 to 29 MB with it).
        """
        for bucket, cf in opened.buckets.items():
            if bucket != newest:
                cf.flush(True)
        opened.meta.flush(True)
