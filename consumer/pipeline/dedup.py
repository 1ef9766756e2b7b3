"""Upstream duplicates: an `event_id` already scored within the window gets no second score.

A retrying producer re-sends the same event (same `event_id`, same key, so the same partition).
Exactly-once inside the scorer does not help the CRM with that: it would get two `LoanScored` for
one application. So the scorer remembers each id it has scored, per input partition, with a hash
of the application's content and the input offset it was scored at:

- the same id with the same content is a **duplicate**: no score, counted, logged with the
  offset of the first one;
- the same id with **different content** (income 150 then 40) is not a retry but a conflict: it
  goes to the dead-letter topic as `conflicting_duplicate`, with headers naming the first score's
  offset, never silently dropped;
- ids restored from changelog records written before hashes were kept count as duplicates, as
  they did then.

The memory is a changelog topic, as in Kafka Streams: one record per batch and input partition
listing the ids it scored (key: the input partition and the offset of the batch's first record
there), written to the changelog partition with the number of its input partition, **in the same
transaction** as the scores and the consumer offsets; a local RocksDB store per partition
(consumer/state) answers the questions and is updated only once that transaction committed.

This module decides and encodes; the store is consumer/state, the Kafka side (reading the
changelog, creating it) consumer/kafka/changelog.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import Enum
from typing import Protocol

import orjson

from consumer.state.hashing import UNKNOWN_CONTENT_HASH
from consumer.state.scored_id import UNKNOWN_INPUT_OFFSET, ScoredId


class ScoredIds(Protocol):
    """The ids scored per input partition (consumer/state/partitions.py is the store)."""

    def prepare(self, positions: Iterable[tuple[int, int]]) -> None:
        """Before a batch, given its (partition, offset) pairs in order."""
        ...

    def lookup(self, partition: int, event_ids: Collection[str]) -> dict[str, ScoredId]: ...

    def stage(self, partition: int, event_id: str, scored: ScoredId) -> None:
        """The id is scored in the batch about to be committed."""
        ...


class Seen(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICTING = "conflicting"


def verdict(first: ScoredId | None, content_hash: bytes) -> Seen:
    """What an event whose id was scored before (`first`) is: a retry, or a different event."""
    if first is None:
        return Seen.NEW
    if first.content_hash in (UNKNOWN_CONTENT_HASH, content_hash):
        return Seen.DUPLICATE
    return Seen.CONFLICTING


def changelog_batch_key(partition: int, first_offset: int) -> bytes:
    """Unique per batch: a batch replayed after an abort rewrites the same key, same ids."""
    return f"{partition}@{first_offset}".encode()


def changelog_batch_value(entries: Iterable[tuple[str, ScoredId]]) -> bytes:
    """The ids one batch scored on one input partition, each with its content hash, the time it
    was scored and its input offset (never empty, so never a tombstone)."""
    return orjson.dumps(
        {
            "v": 2,
            "ids": [
                [event_id, s.content_hash.hex(), round(s.scored_at_s * 1000), s.input_offset]
                for event_id, s in entries
            ],
        }
    )


def changelog_entries(
    key: bytes | None, value: bytes | None, timestamp_s: float
) -> list[tuple[str, ScoredId]]:
    """The ids one changelog record holds, in any form it was ever written in: v2 (with hash,
    time and offset), a batch of ids, or one id per record (key = event_id). The older forms
    carry no hash: their ids are scored at the record's timestamp, content unknown."""
    if value is not None and value.startswith(b'{"v":2'):
        return [
            (str(event_id), ScoredId(scored_at_ms / 1000, bytes.fromhex(digest), int(offset)))
            for event_id, digest, scored_at_ms, offset in orjson.loads(value)["ids"]
        ]
    unknown = ScoredId(max(timestamp_s, 0.0), UNKNOWN_CONTENT_HASH, UNKNOWN_INPUT_OFFSET)
    if value is not None and value.startswith(b'{"event_ids"'):
        ids = orjson.loads(value).get("event_ids")
        if isinstance(ids, list):
            return [(str(event_id), unknown) for event_id in ids]
    return [(key.decode(), unknown)] if isinstance(key, bytes) else []


def changelog_value_without(value: bytes, event_ids: Collection[str]) -> bytes | None:
    """A batch's changelog value (v2) without `event_ids`, whose scores were never published
    (replaced by truncated dead letters): None when no id is left, so no record is written. An
    id in the changelog is skipped when it comes again, so one left here would never be
    scored."""
    entries = [
        (event_id, scored)
        for event_id, scored in changelog_entries(None, value, 0.0)
        if event_id not in event_ids
    ]
    return changelog_batch_value(entries) if entries else None
