"""Rebalance bookkeeping of the loop: which records of one consume() may be processed."""

from __future__ import annotations

from dataclasses import dataclass

from consumer.kafka.partition_tracker import PartitionTracker


@dataclass
class Msg:
    t: str
    p: int
    o: int

    def topic(self) -> str:
        return self.t

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o


def test_records_of_a_partition_revoked_during_consume_are_dropped() -> None:
    tracker = PartitionTracker()
    tracker.assign([("in", 0), ("in", 1)])
    tracker.begin_consume()
    tracker.revoke([("in", 1)])
    assert tracker.usable(Msg("in", 0, 5))  # type: ignore[arg-type]
    assert not tracker.usable(Msg("in", 1, 5))  # type: ignore[arg-type]
    assert tracker.to_resync() == set()
    assert tracker.assigned == {("in", 0)}


def test_a_partition_revoked_and_assigned_back_in_one_consume_is_resynced_not_skipped() -> None:
    tracker = PartitionTracker()
    tracker.assign([("in", 0)])
    tracker.begin_consume()
    tracker.revoke([("in", 0)])
    tracker.assign([("in", 0)])
    assert not tracker.usable(Msg("in", 0, 7))  # type: ignore[arg-type]  # old and new may mix
    assert tracker.to_resync() == {("in", 0)}  # so it is read again from the committed offset
    tracker.begin_consume()
    assert tracker.usable(Msg("in", 0, 7))  # type: ignore[arg-type]
    assert tracker.to_resync() == set()


def test_a_batch_read_again_after_an_abort_is_not_counted_as_consumed_twice() -> None:
    tracker = PartitionTracker()
    tracker.assign([("in", 0)])
    batch = [Msg("in", 0, o) for o in range(10, 15)]
    assert tracker.first_reads(batch) == 5  # type: ignore[arg-type]
    assert tracker.first_reads(batch) == 0  # type: ignore[arg-type]
    assert tracker.first_reads([Msg("in", 0, 14), Msg("in", 0, 15)]) == 1  # type: ignore[list-item]
    tracker.revoke([("in", 0)])  # a new owner counts what it reads; so do we if it comes back
    assert tracker.first_reads([Msg("in", 0, 15)]) == 1  # type: ignore[list-item]
