"""A clock the test moves, and stores on one temporary path that are all closed at the end."""

from __future__ import annotations

from pathlib import Path

from consumer.state.store import PartitionStore

T0 = 1_000.0  # epoch seconds; with WINDOW_S = 70 the buckets are 10 s and T0 starts bucket 100
WINDOW_S = 70.0
BUCKET_S = 10


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Stores:
    """Makes stores on one path; every store it made is closed when the test ends."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.sleeps: list[float] = []
        self._made: list[PartitionStore] = []

    def new(self, *, bucket_s: int | None = None, open_attempts: int = 1) -> PartitionStore:
        store = PartitionStore(
            self.path,
            window_s=WINDOW_S,
            bucket_s=bucket_s,
            clock=self.clock,
            open_attempts=open_attempts,
            open_backoff_s=0.25,
            sleep=self.sleeps.append,  # the tests never wait
        )
        self._made.append(store)
        return store

    def open(self, *, bucket_s: int | None = None) -> PartitionStore:
        store = self.new(bucket_s=bucket_s)
        store.open()
        return store

    def close_all(self) -> None:
        for store in self._made:
            store.close()
