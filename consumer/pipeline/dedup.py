"""Upstream duplicates: an `event_id` already scored within the window gets no second score.

A retrying producer re-sends the same event (same `event_id`, same key, so the same partition).
Exactly-once inside the scorer does not help the CRM with that: it would get two `LoanScored` for
one application. So the scorer remembers the ids it has scored, per input partition, and skips
an id it has seen within `window_s`.

The memory is a changelog topic, as in Kafka Streams: one record per batch and input partition
listing the `event_id`s it scored (key: the input partition and the offset of the batch's first
record there), written to the changelog partition with the number of its input partition, **in
the same transaction** as the scores and the consumer offsets. (One record per event, as first
written, doubled the scorer's produce calls for a few bytes each; the reader still accepts that
form, key = `event_id`.) So it can never say "scored" for a score
that was aborted, and never forget one that was committed: it holds through `kill -9` and
rebalances. The topic is compacted and deleted after the window, so it stays small.
An in-memory set per partition answers the questions. It is rebuilt from the changelog whenever
the partition's next offset is not the one expected: on the first record after an assignment, and
after a rewind (an aborted batch's ids were added to memory but never committed). Why not an
embedded database (RocksDB, SQLite): the state would need its own copy per pod and a way to move
with the partition; the changelog already moves with it.

The Kafka side (reading a changelog partition, creating the topic) is in
consumer/kafka/changelog.py; this module decides, and holds no client.

In at-least-once mode the changelog is written beside the scores, not atomically with them: a
crash between the two can still let a duplicate through (see docs/scores.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

import orjson

from consumer.records import EpochClock

logger = logging.getLogger(__name__)

# Entries older than the window are dropped from memory once this fraction of the window has
# passed since the last sweep: memory holds the window's ids plus at most a tenth more, and the
# sweep (a pass over the partition's ids) runs ten times per window whatever the traffic. (A
# sweep every 10,000 additions let a short window hold 10,000 ids per partition, and swept a
# long window's millions of ids again and again.)
_PRUNE_FRACTION: Final = 0.1


class ChangelogError(RuntimeError):
    """The changelog could not be read or created; scoring must not go on without it."""


class ChangelogReader(Protocol):
    def read(self, partition: int, since_epoch_s: float) -> dict[str, float]:
        """{event_id: scored at, epoch s} of the partition's committed records since the time."""
        ...


@dataclass
class _Partition:
    seen: dict[str, float] = field(default_factory=dict)
    next_offset: int = -1
    swept_at: float | None = None  # None: not since it was restored


class SeenEvents:
    """The ids scored per input partition, rebuilt from the changelog when needed."""

    def __init__(self, reader: ChangelogReader, window_s: float, clock: EpochClock = time.time):
        self._reader = reader
        self._window_s = window_s
        self._clock = clock
        self._partitions: dict[int, _Partition] = {}

    def prepare(self, positions: Iterable[tuple[int, int]]) -> None:
        """Before a batch, given its (partition, offset) pairs in order: rebuild any partition
        whose first offset here is not the one after the last batch (new, or rewound)."""
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for partition, offset in positions:
            first.setdefault(partition, offset)
            last[partition] = offset
        for partition, offset in first.items():
            state = self._partitions.get(partition)
            if state is None or state.next_offset != offset:
                since = self._clock() - self._window_s
                restored = self._reader.read(partition, since)
                logger.info(
                    "scored event ids restored from the changelog",
                    extra={"partition": partition, "ids": len(restored)},
                )
                state = _Partition(seen=restored)
                self._partitions[partition] = state
            state.next_offset = last[partition] + 1

    def seen(self, partition: int, event_id: str) -> bool:
        """Whether the id was scored within the window. Call `prepare` for the batch first."""
        seen_at = self._partitions[partition].seen.get(event_id)
        return seen_at is not None and self._clock() - seen_at <= self._window_s

    def remember(self, partition: int, event_id: str) -> None:
        """The id was scored (in the batch about to be committed)."""
        state = self._partitions[partition]
        now = self._clock()
        state.seen[event_id] = now
        if state.swept_at is None:
            state.swept_at = now
        elif now - state.swept_at >= self._window_s * _PRUNE_FRACTION:
            horizon = now - self._window_s
            state.seen = {key: at for key, at in state.seen.items() if at >= horizon}
            state.swept_at = now

    @property
    def ids_held(self) -> int:
        """Event ids in memory, all partitions: the window's memory, about 150 bytes each."""
        return sum(len(state.seen) for state in self._partitions.values())


def changelog_value(application_id: str) -> bytes:
    """The first form, one record per event (key = event_id): read, no longer written.
    Never empty: an empty value is a tombstone to a compacted topic."""
    return orjson.dumps({"application_id": application_id})


def changelog_batch_key(partition: int, first_offset: int) -> bytes:
    """Unique per batch: a batch replayed after an abort rewrites the same key, same ids."""
    return f"{partition}@{first_offset}".encode()


def changelog_batch_value(event_ids: list[str]) -> bytes:
    """The ids one batch scored on one input partition (never empty, so never a tombstone)."""
    return orjson.dumps({"event_ids": event_ids})


def changelog_ids(key: bytes | None, value: bytes | None) -> list[str]:
    """The event ids one changelog record holds, in either form."""
    if value is not None and value.startswith(b'{"event_ids"'):
        ids = orjson.loads(value).get("event_ids")
        if isinstance(ids, list):
            return [str(event_id) for event_id in ids]
    return [key.decode()] if isinstance(key, bytes) else []
