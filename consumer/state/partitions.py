"""The scored ids of every assigned partition: opened, restored, updated after each commit, closed.

The life of one partition's state, as Kafka Streams and Quix Streams run it:

- **first batch after an assignment (or a rewind)**: open the local store, check its checkpoint
  file, and read the changelog from the offset the store reflects to the changelog's end. No
  checkpoint, an unreadable one, a corrupt or incompatible store, or a store that claims more than
  the changelog holds: destroy it and restore from the start of the window, streamed chunk by
  chunk (memory is one chunk and the store's caches). Each chunk is written with its offset in
  one WriteBatch, so a restore that fails resumes where it was; and the checkpoint file is
  written about once a second during a restore too, so a `kill -9` during one resumes from
  there rather than from the start (a store without a checkpoint is not trusted);
- **each batch**: `lookup` answers from the store; the ids the batch scores are **staged** in
  memory; `commit` writes them only once the Kafka transaction that wrote their changelog records
  has committed; `discard` drops them after an abort. So the store never holds an id the
  committed changelog does not;
- **about once a second** (and on revoke) the store records how far into the changelog it
  reaches, in the same atomic write as nothing else, and a checkpoint file says so. That offset
  is the changelog's end as the broker gives it right after a commit: this member is the only
  writer of its partitions' changelog partitions, and every id committed so far is in the store.
  (Delivery reports would give it per record, but the producer asks for failed ones only: a
  Python callback per record cost CPU on the hot path.) At worst the offset is behind, and the
  next restore replays a little (a replayed record writes the same values again);
- **revoke**: flush the WAL, write the checkpoint, close the store (its memory is freed). A
  partition that comes back reopens it and reads only the changelog's tail.

The changelog is read through `ChangelogSource`, which consumer/kafka/changelog.py implements, so
this room holds no Kafka client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from consumer.records import EpochClock
from consumer.state import checkpoint
from consumer.state.errors import (
    ChangelogError,
    CheckpointInvalidError,
    StoreLockedError,
    StoreOpenError,
)
from consumer.state.scored_id import ScoredId
from consumer.state.store import PartitionStore

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.json"
STORE_DIR = "rocksdb"
CHECKPOINT_INTERVAL_S = 1.0
PROGRESS_INTERVAL_S = 5.0

ChangelogChunk = tuple[list[tuple[str, ScoredId]], int]  # (entries, next offset)


class ChangelogSource(Protocol):
    """The committed records of the changelog, one partition at a time (read_committed)."""

    def end_offset(self, partition: int) -> int:
        """The offset after the partition's last record; raises ChangelogError when the
        broker does not say."""
        ...

    def start_offset(self, partition: int, since_epoch_s: float) -> int:
        """The first offset written at or after the time (the end offset when none is)."""
        ...

    def read(self, partition: int, start: int) -> Iterator[ChangelogChunk]:
        """The entries from `start` to the end, in chunks, each with the offset after it."""
        ...


class RestoreListener(Protocol):
    """Told what a restore is doing, so readiness, logs and metrics can say it."""

    def restoring(self, partition: int, done: int, total: int) -> None: ...
    def restored(self, partition: int, records: int, seconds: float) -> None: ...


@dataclass
class _Partition:
    store: PartitionStore
    expected_offset: int = -1  # the input offset the next batch should start at
    pending: dict[str, ScoredId] = field(default_factory=dict)
    checkpointed_at: float = 0.0
    dirty: bool = False  # ids applied since the last checkpoint
    caught_up: bool = False  # restored to the changelog's end at least once since opened


class PartitionStates:
    """One `PartitionStore` per assigned input partition, under `root/<partition>/`."""

    def __init__(
        self,
        root: Path,
        *,
        changelog_topic: str,
        window_s: float,
        source: ChangelogSource,
        listener: RestoreListener | None = None,
        clock: EpochClock = time.time,
        store_factory: Callable[[Path], PartitionStore] | None = None,
    ) -> None:
        self._root = root / changelog_topic
        self._topic = changelog_topic
        self._window_s = window_s
        self._source = source
        self._listener = listener
        self._clock = clock
        self._new_store = store_factory or (
            lambda path: PartitionStore(path, window_s=window_s, clock=clock)
        )
        self._partitions: dict[int, _Partition] = {}
        self.restored_records = 0  # since start, every partition: the restore counter's source

    # -- per batch ------------------------------------------------------------------------

    def prepare(self, positions: Iterable[tuple[int, int]]) -> None:
        """Before a batch, given its (partition, offset) pairs in order: open and catch up any
        partition whose first offset here is not the one after its last batch (new, rewound or
        read again after an abort). Raises the source's error when the changelog cannot be read;
        what was restored until then is kept."""
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for partition, offset in positions:
            first.setdefault(partition, offset)
            last[partition] = offset
        for partition, offset in first.items():
            state = self._partitions.get(partition)
            if state is None or state.expected_offset != offset:
                state = self._catch_up(partition, state)
            state.pending.clear()
            state.expected_offset = last[partition] + 1

    def restore(self, partitions: Iterable[int]) -> None:
        """Open and catch up partitions just assigned, before their first batch arrives, so
        `/readyz` says `restoring state` from the assignment on (a partition restored only at its
        first record let /readyz answer 200 meanwhile). Their first batch then finds them at the
        changelog's end and reads nothing."""
        for partition in partitions:
            state = self._partitions.get(partition)
            if state is None or not state.caught_up:  # new, or a restore that failed midway
                self._catch_up(partition, state)

    def lookup(self, partition: int, event_ids: Collection[str]) -> dict[str, ScoredId]:
        """The ids scored within the window (committed, or staged earlier in this batch)."""
        state = self._partitions[partition]
        found = state.store.lookup(event_ids)
        found.update({i: state.pending[i] for i in event_ids if i in state.pending})
        return found

    def stage(self, partition: int, event_id: str, scored: ScoredId) -> None:
        """The id is scored in the batch about to be committed."""
        self._partitions[partition].pending[event_id] = scored

    def unstage(self, partition: int, event_id: str) -> None:
        """The id's score was replaced by a truncated dead letter, and its changelog record
        left it out: the store must not remember it either."""
        state = self._partitions.get(partition)
        if state is not None:
            state.pending.pop(event_id, None)

    def commit(self) -> None:
        """The batch's transaction committed: store its staged ids (at the offset the store had;
        about once a second, `_checkpoint` moves it to the changelog's end)."""
        now = self._clock()
        for partition, state in self._partitions.items():
            if state.pending:
                state.store.apply(state.pending, state.store.next_changelog_offset or 0)
                state.pending.clear()
                state.dirty = True
            if state.dirty and now - state.checkpointed_at >= CHECKPOINT_INTERVAL_S:
                state.store.expire(now)
                self._checkpoint(partition, state)

    def discard(self) -> None:
        """The batch was rolled back: forget what it staged, and read each partition's state
        again before the next batch (its first offset will not be the expected one)."""
        for state in self._partitions.values():
            state.pending.clear()
            state.expected_offset = -1

    # -- assignment -----------------------------------------------------------------------

    def revoke(self, partitions: Iterable[int]) -> None:
        """The partitions leave this member: checkpoint and close their stores."""
        for partition in partitions:
            state = self._partitions.pop(partition, None)
            if state is not None:
                self._close(partition, state)

    def close(self) -> None:
        self.revoke(list(self._partitions))

    # -- what ops see ---------------------------------------------------------------------

    @property
    def ids_held(self) -> int:
        return sum(state.store.approximate_ids() for state in self._partitions.values())

    def bytes_on_disk(self) -> int:
        return sum(state.store.bytes_on_disk() for state in self._partitions.values())

    @property
    def partitions(self) -> list[int]:
        return sorted(self._partitions)

    # -- internals ------------------------------------------------------------------------

    def _catch_up(self, partition: int, state: _Partition | None) -> _Partition:
        if state is None:
            state = _Partition(self._open(partition))
            self._partitions[partition] = state
        start = state.store.next_changelog_offset
        end = self._source.end_offset(partition)
        if start is not None and start > end:
            logger.warning(
                "state store ahead of its changelog (a recreated topic?); restoring from scratch",
                extra={"partition": partition, "store_offset": start, "changelog_end": end},
            )
            state.store.close()
            PartitionStore.destroy(state.store.path)
            state = _Partition(self._open(partition))
            self._partitions[partition] = state
            start = None
        if start is None:
            start = self._source.start_offset(partition, self._clock() - self._window_s)
        if start < end:
            self._restore(partition, state, start, end)
        state.caught_up = True
        return state

    def _open(self, partition: int) -> PartitionStore:
        """The partition's store, fresh when its checkpoint or the store itself cannot be
        trusted (no checkpoint after a crash means the WAL's tail may be missing: rebuild)."""
        directory = self._root / str(partition)
        store = self._new_store(directory / STORE_DIR)
        try:
            saved = checkpoint.read(directory / CHECKPOINT_FILE)
        except CheckpointInvalidError as error:
            logger.warning("state checkpoint unreadable", extra={"error": str(error)})
            saved = None
        trusted = saved is not None and saved.bucket_s == store.bucket_s
        if trusted:
            try:
                store.open()
            except StoreLockedError:
                raise  # another process holds it: neither ours to destroy nor to use yet
            except StoreOpenError as error:
                logger.warning("state store unusable", extra={"error": str(error)})
                trusted = False
        if trusted and saved is not None:
            stored = store.next_changelog_offset
            # Less than the checkpoint saw flushed: the store lost writes (a torn MANIFEST or
            # WAL opens without an error, with fewer keys or none; design memo, section 2).
            trusted = stored is not None and stored >= saved.next_offset
        if not trusted:
            if store.is_open:
                store.close()
            PartitionStore.destroy(store.path)
            (directory / CHECKPOINT_FILE).unlink(missing_ok=True)
            store.open()
            logger.info("state store created empty", extra={"partition": partition})
        return store

    def _restore(self, partition: int, state: _Partition, start: int, end: int) -> None:
        """Stream the changelog from `start` into the store; each chunk lands with its offset,
        so a failure resumes from the last chunk, not from zero."""
        began = last_report = time.monotonic()
        total = end - start
        done = 0
        logger.info(
            "restoring state", extra={"partition": partition, "from": start, "records": total}
        )
        if self._listener is not None:
            self._listener.restoring(partition, 0, total)
        checkpointed_at = self._clock()
        for entries, next_offset in self._source.read(partition, start):
            state.store.apply(dict(entries), next_offset)
            done = min(next_offset - start, total)
            self.restored_records += len(entries)
            if self._clock() - checkpointed_at >= CHECKPOINT_INTERVAL_S:
                # A process killed mid-restore resumes here: without a checkpoint file its
                # store would be untrusted, destroyed and restored from the start again.
                checkpointed_at = self._clock()
                self._checkpoint(partition, state)
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                logger.info(
                    "restoring state",
                    extra={"partition": partition, "done": done, "records": total},
                )
            if self._listener is not None:
                self._listener.restoring(partition, done, total)
        state.store.expire(self._clock())
        self._checkpoint(partition, state)
        seconds = time.monotonic() - began
        logger.info(
            "state restored",
            extra={"partition": partition, "records": done, "seconds": round(seconds, 2)},
        )
        if self._listener is not None:
            self._listener.restored(partition, done, seconds)

    def _checkpoint(self, partition: int, state: _Partition) -> None:
        """Record how far into the changelog the store reaches. After commits, the changelog's
        end: every committed id is applied. Asked of the broker, so skipped while it does not
        answer: the offset stays behind, never ahead."""
        if state.dirty:
            try:
                end = self._source.end_offset(partition)
            except ChangelogError as error:
                logger.info(
                    "state offset not moved", extra={"partition": partition, "error": str(error)}
                )
            else:
                state.store.apply({}, end)
                state.dirty = False
        offset = state.store.next_changelog_offset
        if offset is None:
            return
        state.store.flush_wal()  # the file never claims more than the WAL holds durably
        checkpoint.write_atomic(
            self._root / str(partition) / CHECKPOINT_FILE,
            checkpoint.Checkpoint(
                format=checkpoint.CHECKPOINT_FORMAT,
                changelog_topic=self._topic,
                partition=partition,
                next_offset=offset,
                bucket_s=state.store.bucket_s,
                window_s=self._window_s,
                written_at=datetime.now(UTC),
            ),
        )
        state.checkpointed_at = self._clock()

    def _close(self, partition: int, state: _Partition) -> None:
        try:
            self._checkpoint(partition, state)
        finally:
            state.store.close()
