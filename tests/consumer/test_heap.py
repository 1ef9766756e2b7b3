"""The collector settings the service scores under (consumer/runtime/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from consumer.runtime.heap import YOUNG_THRESHOLD, freeze_start_up_heap


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector can free it


def test_what_exists_at_start_up_is_frozen_and_young_collections_are_spaced_out() -> None:
    gc.unfreeze()
    held = [_Node() for _ in range(100)]
    state = freeze_start_up_heap()
    assert state.frozen_objects == gc.get_freeze_count() >= len(held)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD == state.thresholds[0]
    # Frozen objects sit in the permanent generation, which no collection walks.
    assert not any(obj is held[0] for obj in gc.get_objects())


def test_cycles_made_after_the_freeze_are_still_collected() -> None:
    freeze_start_up_heap()
    before = gc.get_freeze_count()
    for _ in range(1_000):
        _Node()
    assert gc.collect() >= 1_000  # the cycles made since, not the frozen heap
    assert gc.get_freeze_count() == before


def test_a_threshold_that_would_turn_the_collector_off_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        freeze_start_up_heap(0)
