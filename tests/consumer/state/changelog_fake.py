"""An in-memory changelog with the contract of consumer/kafka/changelog.py's `KafkaChangelog`:
what a state restore reads, without a broker (the integration tests use the real one)."""

from __future__ import annotations

from collections.abc import Iterator

from consumer.state.errors import ChangelogError
from consumer.state.partitions import ChangelogChunk
from consumer.state.scored_id import ScoredId


class FakeChangelog:
    """Each partition is a list of records; a record is the entries one batch wrote. `fail_after`
    makes a read raise after that many chunks (a broker lost mid-restore)."""

    def __init__(self, chunk: int = 2) -> None:
        self.partitions: dict[int, list[list[tuple[str, ScoredId]]]] = {}
        self.reads: list[tuple[int, int]] = []  # (partition, start) of every read
        self.chunk = chunk
        self.fail_after: int | None = None

    def append(self, partition: int, entries: list[tuple[str, ScoredId]]) -> int:
        """Commit a record; returns the offset after it."""
        records = self.partitions.setdefault(partition, [])
        records.append(entries)
        return len(records)

    def end_offset(self, partition: int) -> int:
        return len(self.partitions.get(partition, []))

    def start_offset(self, partition: int, since_epoch_s: float) -> int:
        for offset, entries in enumerate(self.partitions.get(partition, [])):
            if any(scored.scored_at_s >= since_epoch_s for _, scored in entries):
                return offset
        return self.end_offset(partition)

    def read(self, partition: int, start: int) -> Iterator[ChangelogChunk]:
        self.reads.append((partition, start))
        records = self.partitions.get(partition, [])
        for chunks, first in enumerate(range(start, len(records), self.chunk)):
            if self.fail_after is not None and chunks >= self.fail_after:
                raise ChangelogError("changelog read failed")
            upto = min(first + self.chunk, len(records))
            yield [e for record in records[first:upto] for e in record], upto
        if start >= len(records):
            yield [], len(records)
