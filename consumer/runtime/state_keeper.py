"""The loop's side of the state stores: when to restore, commit, discard and close them, and the
gauges ops watch. The stores themselves (and why this order keeps them never ahead of the
committed changelog) are consumer/state/partitions.py."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Collection, Iterable

from consumer.kafka.errors import StopScoringError
from consumer.kafka.offsets import Position
from consumer.state.errors import ChangelogError, StateError
from consumer.state.partitions import PartitionStates
from consumer.telemetry.metrics import ScorerMetrics

logger = logging.getLogger(__name__)

# How often the state gauges (ids held, bytes on disk: a walk of the store directories) refresh.
GAUGES_INTERVAL_S = 5.0


class StateKeeper:
    def __init__(self, states: PartitionStates, metrics: ScorerMetrics, input_topic: str) -> None:
        self._states = states
        self._metrics = metrics
        self._input_topic = input_topic
        self._to_restore: list[int] = []  # assigned since the last batch: restored before it
        self._gauges_at = 0.0

    def assigned(self, partitions: Iterable[int]) -> None:
        """Called from the assignment callback: noted, restored by the loop before its next
        batch (not inside the callback, which runs within consume())."""
        self._to_restore.extend(partitions)

    def restore_assigned(self, still_assigned: Collection[Position]) -> None:
        """The state of partitions just assigned, restored now rather than at their first record,
        so /readyz says so from the assignment on; a failure is retried by their first batch
        (`prepare`), which cannot go on without it."""
        restore, self._to_restore = self._to_restore, []
        if not restore:
            return
        try:
            self._states.restore(p for p in restore if (self._input_topic, p) in still_assigned)
        except (ChangelogError, StateError) as error:
            logger.warning(
                "state not restored yet; the first batch tries again", extra={"error": str(error)}
            )

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
