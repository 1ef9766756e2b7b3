"""Keeps Python's cyclic garbage collector off the start-up heap while the service scores.

After start-up the process holds a few hundred thousand long-lived objects (scikit-learn, pandas,
pydantic's schemas, FastAPI's routes) that are never garbage. Every batch allocates thousands of
short-lived ones (decoded events, features, score records), which survive a young collection
while the batch is in flight and are promoted; each full collection then walks the whole heap
again. Measured on the scorer's own loop, that walk was about a third of its CPU per event.
`gc.freeze()` (Python 3.7+, the technique Instagram published for its forked web servers) moves
what exists now to a permanent generation the collector never scans; cycles made later are still
collected as before, so memory stays bounded (the soak's RSS check guards that).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

# Young collections once per this many net allocations instead of Python's 700: a batch of 500
# events allocates some 15,000 objects, so 700 meant a young collection every few dozen events.
YOUNG_THRESHOLD = 10_000


@dataclass(frozen=True)
class HeapState:
    frozen_objects: int
    thresholds: tuple[int, int, int]


def freeze_start_up_heap(young_threshold: int = YOUNG_THRESHOLD) -> HeapState:
    """Collect what start-up left behind, freeze the rest, and space young collections out.

    Call once, when everything loaded for the life of the process is loaded (model, policy,
    servers) and before the first batch; calling again freezes what was added since."""
    if young_threshold < 1:
        raise ValueError("young_threshold must be at least 1 (0 would turn the collector off)")
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
    return HeapState(gc.get_freeze_count(), gc.get_threshold())
