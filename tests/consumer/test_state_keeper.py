"""The loop's side of the state stores: what is restored when, and a store that cannot be
written stops the loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.kafka.errors import StopScoringError
from consumer.runtime.service import new_metrics
from consumer.runtime.state_keeper import StateKeeper
from consumer.state.errors import StateError
from consumer.state.partitions import PartitionStates
from consumer.state.scored_id import ScoredId
from tests.consumer.state.changelog_fake import FakeChangelog
from tests.consumer.state.stores import T0, WINDOW_S

TOPIC = "loan-applications"


def _keeper(tmp_path: Path, changelog: FakeChangelog) -> tuple[StateKeeper, PartitionStates]:
    states = PartitionStates(
        tmp_path, changelog_topic="ids", window_s=WINDOW_S, source=changelog, clock=lambda: T0
    )
    return StateKeeper(states, new_metrics(), TOPIC), states


def test_only_partitions_still_assigned_are_restored(tmp_path: Path) -> None:
    keeper, states = _keeper(tmp_path, FakeChangelog())
    keeper.assigned([0, 1])
    keeper.restore_assigned({(TOPIC, 1)})  # 0 was revoked again within the same consume()
    assert states.partitions == [1]
    keeper.restore_assigned({(TOPIC, 0), (TOPIC, 1)})  # nothing new was assigned
    assert states.partitions == [1]
    keeper.close()


def test_a_restore_that_fails_is_left_to_the_first_batch(tmp_path: Path) -> None:
    changelog = FakeChangelog()
    changelog.append(0, [("e-1", ScoredId(T0, bytes(16), -1))])
    changelog.fail_after = 0
    keeper, states = _keeper(tmp_path, changelog)
    keeper.assigned([0])
    keeper.restore_assigned({(TOPIC, 0)})  # logged, not raised
    changelog.fail_after = None
    states.prepare([(0, 0)])
    assert changelog.reads == [(0, 0), (0, 0)]
    keeper.close()


def test_a_store_that_cannot_be_written_stops_the_loop(tmp_path: Path) -> None:
    keeper, states = _keeper(tmp_path, FakeChangelog())

    def full_disk() -> None:
        raise StateError("state store: write failed: IO error: No space left on device")

    states.commit = full_disk  # type: ignore[method-assign]
    with pytest.raises(StopScoringError, match="No space left"):
        keeper.commit()
    keeper.close()
