"""The loop's side of the state stores: when to restore, commit, discard and close them, and the
gauges ops watch. The stores themselves (and why this order keeps them never ahead of the
committed changelog) are consumer/state/partitions.py."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable

from consumer.kafka.errors import StopScoringError
from consumer.kafka.offsets import Position
from consumer.kafka.retry_bound import RetryBound
from consumer.state.errors import ChangelogError, StateError
from consumer.state.partitions import PartitionStates
from consumer.telemetry.metrics import ScorerMetrics

logger = logging.getLogger(__name__)

# How often the state gauges (ids held, bytes on disk: a walk of the store directories) refresh.
GAUGES_INTERVAL_S = 5.0
# The pause before a failed restore is tried again (each attempt is itself bounded by the
# changelog's read timeout).
RESTORE_RETRY_S = 2.0


class StateKeeper:
    def __init__(
        self,
        states: PartitionStates,
        metrics: ScorerMetrics,
        input_topic: str,
        bound: RetryBound | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._states = states
        self._metrics = metrics
        self._input_topic = input_topic
        self._bound = bound
        self._clock = clock
        self._to_restore: list[int] = []  # assigned, not restored yet: restored before a batch
        self._retry_at = 0.0
        self._gauges_at = 0.0

    def assigned(self, partitions: Iterable[int]) -> None:
        """Called from the assignment callback: noted, restored by the loop before its next
        batch (not inside the callback, which runs within consume())."""
        self._to_restore.extend(partitions)

    def restore_assigned(self, still_assigned: Collection[Position]) -> None:
        """The state of partitions just assigned, restored now rather than at their first record,
        so /readyz says so from the assignment on. A failure is tried again every
        `RESTORE_RETRY_S` (and by their first batch, `prepare`, which cannot go on without it),
        within the restore's retry bound: past it not ready, then a stop (`RetryBoundExceeded`),
        never a partition left unrestored in silence."""
        if not self._to_restore or self._clock() < self._retry_at:
            return
        restore = [p for p in self._to_restore if (self._input_topic, p) in still_assigned]
        self._to_restore = []
        try:
            self._states.restore(restore)
        except (ChangelogError, StateError) as error:
            logger.warning("state not restored yet; trying again", extra={"error": str(error)})
            self._to_restore = restore  # those restored meanwhile are skipped next time
            self._retry_at = self._clock() + RESTORE_RETRY_S
            if self._bound is not None:
                self._bound.failed(f"state restore: {error}")
            return
        if self._bound is not None:
            self._bound.succeeded()

    def commit(self) -> None:
        """The batch committed: its scored ids go into the stores. A store that cannot be
        written (a full disk) stops the loop: scoring on would let duplicates through unseen."""
        try:
            self._states.commit()
        except StateError as error:
            raise StopScoringError(f"state store: {error}") from error

    def unstage(self, scores: Iterable[tuple[int, str]]) -> None:
        """Scores never published (replaced by truncated dead letters): not remembered."""
        for partition, event_id in scores:
            self._states.unstage(partition, event_id)

    def discard(self) -> None:
        self._states.discard()

    def revoke(self, positions: Iterable[Position]) -> None:
        with contextlib.suppress(StateError):  # the next owner restores from the changelog
            self._states.revoke(p for t, p in positions if t == self._input_topic)

    def close(self) -> None:
        with contextlib.suppress(StateError):
            self._states.close()

    def refresh_gauges(self) -> None:
        """Ids held and bytes on disk, every few seconds, busy or idle."""
        now = time.monotonic()
        if now - self._gauges_at < GAUGES_INTERVAL_S:
            return
        self._gauges_at = now
        with contextlib.suppress(StateError):  # a store closing meanwhile: next time
            self._metrics.state_ids.set(self._states.ids_held)
            self._metrics.state_bytes_on_disk.set(self._states.bytes_on_disk())
