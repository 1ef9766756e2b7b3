from __future__ import annotations

from dataclasses import dataclass

from consumer.kafka.offsets import batch_next_offsets, batch_start_offsets


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


BATCH = [Msg("in", 0, 10), Msg("in", 1, 3), Msg("in", 0, 11), Msg("in", 0, 12), Msg("in", 1, 4)]


def test_commit_positions_are_one_past_the_last_offset_per_partition() -> None:
    got = {(tp.topic, tp.partition): tp.offset for tp in batch_next_offsets(BATCH)}  # type: ignore[arg-type]
    assert got == {("in", 0): 13, ("in", 1): 5}


def test_rewind_positions_are_the_first_offset_per_partition() -> None:
    got = {(tp.topic, tp.partition): tp.offset for tp in batch_start_offsets(BATCH)}  # type: ignore[arg-type]
    assert got == {("in", 0): 10, ("in", 1): 3}
