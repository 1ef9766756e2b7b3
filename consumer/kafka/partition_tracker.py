"""Which partitions this member owns, and which changed hands while `consume()` ran.

Rebalance callbacks run only inside `consume()`, between batches, so no batch of a revoked
partition is ever in flight when its revocation is acknowledged. Records of a partition revoked
during a `consume()` are dropped from its batch (its new owner reads them); if the partition came
back in the same `consume()`, its records may mix the old assignment's with the new one's, so they
are dropped too and the partition is sent back to its committed offset (`to_resync`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from consumer.kafka.offsets import Position, position_of
from consumer.records import InboundMessage


class PartitionTracker:
    def __init__(self) -> None:
        self.assigned: set[Position] = set()
        self._revoked_in_consume: set[Position] = set()
        self._reassigned_in_consume: set[Position] = set()
        self._read_up_to: dict[Position, int] = {}

    def begin_consume(self) -> None:
        self._revoked_in_consume.clear()
        self._reassigned_in_consume.clear()

    def assign(self, partitions: Iterable[Position]) -> None:
        for partition in partitions:
            self.assigned.add(partition)
            if partition in self._revoked_in_consume:
                self._reassigned_in_consume.add(partition)

    def revoke(self, partitions: Iterable[Position]) -> None:
        for partition in partitions:
            self.assigned.discard(partition)
            self._revoked_in_consume.add(partition)
            self._reassigned_in_consume.discard(partition)
            self._read_up_to.pop(partition, None)

    def usable(self, message: InboundMessage) -> bool:
        topic, partition, _offset = position_of(message)
        return (topic, partition) not in self._revoked_in_consume

    def to_resync(self) -> set[Position]:
        """Partitions revoked and assigned again during the last `consume()`."""
        return set(self._reassigned_in_consume)

    def first_reads(self, messages: Sequence[InboundMessage]) -> int:
        """How many of these records are read for the first time (a batch read again after an
        abort is not consumed twice)."""
        fresh = 0
        for message in messages:
            topic, partition, offset = position_of(message)
            if offset > self._read_up_to.get((topic, partition), -1):
                fresh += 1
                self._read_up_to[(topic, partition)] = offset
        return fresh
