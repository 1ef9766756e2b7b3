"""The life of each partition's state: restore, stage, commit after the transaction, revoke."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.state import checkpoint
from consumer.state.errors import ChangelogError
from consumer.state.hashing import content_hash
from consumer.state.partitions import (
    CHECKPOINT_FILE,
    STORE_DIR,
    ChangelogChunk,
    PartitionStates,
)
from consumer.state.scored_id import ScoredId
from consumer.state.store import PartitionStore
from tests.consumer.state.changelog_fake import FakeChangelog
from tests.consumer.state.stores import T0, WINDOW_S, Clock

TOPIC = "loan-scorer-scored-ids-changelog"


class Progress:
    def __init__(self) -> None:
        self.steps: list[tuple[int, int, int]] = []
        self.done: list[int] = []

    def restoring(self, partition: int, done: int, total: int) -> None:
        self.steps.append((partition, done, total))

    def restored(self, partition: int, records: int, seconds: float) -> None:
        del records, seconds
        self.done.append(partition)


def scored(at: float, content: bytes = b"a", offset: int = 0) -> ScoredId:
    return ScoredId(at, content_hash(content), offset)


@pytest.fixture
def changelog() -> FakeChangelog:
    return FakeChangelog()


@pytest.fixture
def progress() -> Progress:
    return Progress()


@pytest.fixture
def states(
    tmp_path: Path, changelog: FakeChangelog, progress: Progress, clock: Clock
) -> Iterator[PartitionStates]:
    made = PartitionStates(
        tmp_path,
        changelog_topic=TOPIC,
        window_s=WINDOW_S,
        source=changelog,
        listener=progress,
        clock=clock,
    )
    yield made
    made.close()


def new_states(tmp_path: Path, changelog: FakeChangelog, clock: Clock) -> PartitionStates:
    return PartitionStates(
        tmp_path, changelog_topic=TOPIC, window_s=WINDOW_S, source=changelog, clock=clock
    )


def test_a_new_partition_is_restored_from_the_changelog_with_progress(
    states: PartitionStates, changelog: FakeChangelog, progress: Progress
) -> None:
    for i in range(5):
        changelog.append(0, [(f"e-{i}", scored(T0 - 5, offset=i))])

    states.prepare([(0, 100)])

    assert set(states.lookup(0, ["e-0", "e-4", "e-9"])) == {"e-0", "e-4"}
    assert progress.steps[0] == (0, 0, 5)
    assert progress.steps[-1] == (0, 5, 5)
    assert progress.done == [0]


def test_staged_ids_reach_the_store_only_when_the_batch_commits(
    states: PartitionStates, changelog: FakeChangelog
) -> None:
    states.prepare([(0, 0)])
    states.stage(0, "e-1", scored(T0))
    assert "e-1" in states.lookup(0, ["e-1"])  # a copy later in the same batch is judged
    states.discard()  # the transaction aborted

    states.prepare([(0, 0)])  # the batch is read again
    assert states.lookup(0, ["e-1"]) == {}

    states.stage(0, "e-1", scored(T0))
    changelog.append(0, [("e-1", scored(T0))])
    states.commit()
    states.prepare([(0, 1)])
    assert "e-1" in states.lookup(0, ["e-1"])
    assert changelog.reads == []  # the store was at the changelog's end each time: nothing read


def test_an_id_unstaged_before_the_commit_never_reaches_the_store(
    states: PartitionStates, changelog: FakeChangelog
) -> None:
    """Issue 22, 6b: a score replaced by a truncated dead letter is not remembered as scored."""
    states.prepare([(0, 0)])
    states.stage(0, "e-1", scored(T0))
    states.stage(0, "e-2", scored(T0))
    states.unstage(0, "e-1")
    states.unstage(5, "e-1")  # a partition not held: nothing to forget
    changelog.append(0, [("e-2", scored(T0))])
    states.commit()
    states.prepare([(0, 2)])
    assert set(states.lookup(0, ["e-1", "e-2"])) == {"e-2"}


def test_a_revoked_partition_comes_back_reading_only_the_changelog_tail(
    tmp_path: Path, changelog: FakeChangelog, clock: Clock
) -> None:
    first = new_states(tmp_path, changelog, clock)
    first.prepare([(0, 0)])
    for i in range(3):
        first.stage(0, f"e-{i}", scored(T0))
    changelog.append(0, [(f"e-{i}", scored(T0)) for i in range(3)])
    first.commit()
    first.revoke([0])
    assert first.partitions == []
    assert (tmp_path / TOPIC / "0" / CHECKPOINT_FILE).is_file()

    changelog.append(0, [("e-3", scored(T0))])  # written by another member meanwhile
    again = new_states(tmp_path, changelog, clock)
    again.prepare([(0, 10)])

    assert set(again.lookup(0, ["e-0", "e-3"])) == {"e-0", "e-3"}
    assert changelog.reads[-1] == (0, 1)  # from the checkpoint, not from the start
    again.close()


def test_without_a_checkpoint_the_store_is_rebuilt_from_the_start(
    tmp_path: Path, changelog: FakeChangelog, clock: Clock
) -> None:
    first = new_states(tmp_path, changelog, clock)
    first.prepare([(0, 0)])
    first.stage(0, "stale", scored(T0))
    first.commit()  # a store that claims ids the changelog does not hold
    first.close()
    (tmp_path / TOPIC / "0" / CHECKPOINT_FILE).unlink()  # a crash before the first checkpoint
    changelog.append(0, [("e-1", scored(T0))])

    again = new_states(tmp_path, changelog, clock)
    again.prepare([(0, 0)])

    assert set(again.lookup(0, ["stale", "e-1"])) == {"e-1"}
    again.close()


def test_a_corrupt_store_is_destroyed_and_restored(
    tmp_path: Path, changelog: FakeChangelog, clock: Clock
) -> None:
    changelog.append(0, [("e-1", scored(T0))])
    first = new_states(tmp_path, changelog, clock)
    first.prepare([(0, 0)])
    first.close()
    (tmp_path / TOPIC / "0" / STORE_DIR / "CURRENT").write_bytes(b"")  # kill -9 mid-write

    again = new_states(tmp_path, changelog, clock)
    again.prepare([(0, 0)])

    assert "e-1" in again.lookup(0, ["e-1"])
    assert changelog.reads == [(0, 0), (0, 0)]
    again.close()


def test_a_store_ahead_of_its_changelog_is_rebuilt(
    tmp_path: Path, changelog: FakeChangelog, clock: Clock
) -> None:
    for i in range(4):
        changelog.append(0, [(f"e-{i}", scored(T0))])
    first = new_states(tmp_path, changelog, clock)
    first.prepare([(0, 0)])
    first.close()
    changelog.partitions[0] = [[("new-0", scored(T0))]]  # the topic was deleted and recreated

    again = new_states(tmp_path, changelog, clock)
    again.prepare([(0, 0)])

    assert set(again.lookup(0, ["e-0", "new-0"])) == {"new-0"}
    again.close()


def test_a_failed_restore_resumes_where_it_stopped(
    states: PartitionStates, changelog: FakeChangelog
) -> None:
    for i in range(6):
        changelog.append(0, [(f"e-{i}", scored(T0))])
    changelog.fail_after = 1  # one chunk of two records, then the broker is lost

    with pytest.raises(ChangelogError):
        states.prepare([(0, 0)])
    changelog.fail_after = None
    states.prepare([(0, 0)])

    assert changelog.reads == [(0, 0), (0, 2)]  # never from zero again
    assert len(states.lookup(0, [f"e-{i}" for i in range(6)])) == 6


class Killed(BaseException):
    """The process dies: nothing after it runs, no checkpoint at close."""


class KilledAfter(FakeChangelog):
    """A changelog whose read advances the clock a second a chunk and kills the process after
    `kill_after` chunks."""

    def __init__(self, clock: Clock, kill_after: int) -> None:
        super().__init__()
        self.clock = clock
        self.kill_after: int | None = kill_after

    def read(self, partition: int, start: int) -> Iterator[ChangelogChunk]:
        for n, chunk in enumerate(super().read(partition, start)):
            if self.kill_after is not None and n >= self.kill_after:
                raise Killed
            self.clock.now += 1.0
            yield chunk


def test_a_restore_killed_midway_resumes_from_its_last_checkpoint(
    tmp_path: Path, clock: Clock
) -> None:
    changelog = KilledAfter(clock, kill_after=3)
    for i in range(10):
        changelog.append(0, [(f"e-{i}", scored(T0))])
    opened: list[PartitionStore] = []

    def store(path: Path) -> PartitionStore:
        opened.append(PartitionStore(path, window_s=WINDOW_S, clock=clock))
        return opened[-1]

    first = PartitionStates(
        tmp_path, changelog_topic=TOPIC, window_s=WINDOW_S, source=changelog, clock=clock,
        store_factory=store,
    )  # fmt: skip
    with pytest.raises(Killed):
        first.prepare([(0, 0)])
    opened[0].close()  # the lock dies with the process; `first` never closes (no checkpoint)
    saved = checkpoint.read(tmp_path / TOPIC / "0" / CHECKPOINT_FILE)
    assert saved is not None
    assert 0 < saved.next_offset < 10

    changelog.kill_after = None
    again = new_states(tmp_path, changelog, clock)
    again.prepare([(0, 0)])

    assert changelog.reads == [(0, 0), (0, saved.next_offset)]  # not from zero again
    assert len(again.lookup(0, [f"e-{i}" for i in range(10)])) == 10
    again.close()


def test_a_cold_restore_skips_records_older_than_the_window(
    states: PartitionStates, changelog: FakeChangelog
) -> None:
    changelog.append(0, [("old", scored(T0 - WINDOW_S - 30))])
    changelog.append(0, [("recent", scored(T0 - 5))])

    states.prepare([(0, 0)])

    assert changelog.reads == [(0, 1)]
    assert set(states.lookup(0, ["old", "recent"])) == {"recent"}


def test_ids_leave_the_window_without_a_sweep(
    states: PartitionStates, changelog: FakeChangelog, clock: Clock
) -> None:
    states.prepare([(0, 0)])
    states.stage(0, "e-1", scored(T0))
    changelog.append(0, [("e-1", scored(T0))])
    states.commit()
    clock.now = T0 + WINDOW_S + 1
    states.prepare([(0, 1)])
    assert states.lookup(0, ["e-1"]) == {}


def test_the_offset_moves_to_the_changelog_end_at_most_once_a_second(
    tmp_path: Path, changelog: FakeChangelog, clock: Clock
) -> None:
    """Between two checkpoints the store stays at its last offset (behind: a restart replays a
    little, the same values), never ahead; a broker that does not answer leaves it behind."""
    states = new_states(tmp_path, changelog, clock)
    states.prepare([(0, 0)])
    for i, at in enumerate([0.0, 0.3, 0.6]):
        clock.now = T0 + at
        states.stage(0, f"e-{i}", scored(T0))
        changelog.append(0, [(f"e-{i}", scored(T0))])
        states.commit()
    states.close()  # the checkpoint at revoke reaches the end
    saved = checkpoint.read(tmp_path / TOPIC / "0" / CHECKPOINT_FILE)
    assert saved is not None
    assert saved.next_offset == 3

    again = new_states(tmp_path, changelog, clock)
    again.prepare([(0, 3)])
    changelog.fail_after = 0
    changelog.end_offset = _unanswered  # type: ignore[method-assign]
    again.stage(0, "e-3", scored(T0))
    clock.now = T0 + 5
    again.commit()  # applied; the offset cannot move
    again.close()
    saved = checkpoint.read(tmp_path / TOPIC / "0" / CHECKPOINT_FILE)
    assert saved is not None
    assert saved.next_offset == 3


def _unanswered(partition: int) -> int:
    raise ChangelogError(f"no answer for partition {partition}")


def test_partitions_are_independent(states: PartitionStates, changelog: FakeChangelog) -> None:
    changelog.append(1, [("e-1", scored(T0))])
    states.prepare([(0, 0), (1, 0)])
    assert states.lookup(0, ["e-1"]) == {}
    assert "e-1" in states.lookup(1, ["e-1"])
    assert states.partitions == [0, 1]
    states.revoke([1])
    assert states.partitions == [0]


def test_what_ops_see(states: PartitionStates, changelog: FakeChangelog) -> None:
    for i in range(3):
        changelog.append(0, [(f"e-{i}", scored(T0))])
    states.prepare([(0, 0)])
    assert states.ids_held == 3
    assert states.bytes_on_disk() > 0


def test_a_store_is_opened_once_per_partition(tmp_path: Path, clock: Clock) -> None:
    made: list[Path] = []

    def factory(path: Path) -> PartitionStore:
        made.append(path)
        return PartitionStore(path, window_s=WINDOW_S, clock=clock)

    states = PartitionStates(
        tmp_path,
        changelog_topic=TOPIC,
        window_s=WINDOW_S,
        source=FakeChangelog(),
        clock=clock,
        store_factory=factory,
    )
    states.prepare([(0, 0)])
    states.prepare([(0, 1)])
    states.prepare([(0, 0)])  # a rewind catches up, it does not reopen
    assert made == [tmp_path / TOPIC / "0" / STORE_DIR]
    states.close()


def test_an_assigned_partition_is_restored_before_its_first_batch(
    states: PartitionStates, changelog: FakeChangelog, progress: Progress
) -> None:
    for i in range(3):
        changelog.append(0, [(f"e-{i}", scored(T0))])

    states.restore([0])
    assert progress.done == [0]  # /readyz said "restoring state" from the assignment on
    states.restore([0])  # already restored: nothing read again
    states.prepare([(0, 50)])  # its first batch: at the changelog's end already

    assert changelog.reads == [(0, 0)]
    assert "e-2" in states.lookup(0, ["e-2"])
