"""PartitionStore on a real RocksDB in a temporary directory: a handful of ids per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from rocksdict import Rdict

from consumer.state.errors import (
    StateError,
    StoreCorruptedError,
    StoreIncompatibleError,
    StoreLockedError,
)
from consumer.state.hashing import UNKNOWN_CONTENT_HASH
from consumer.state.scored_id import ScoredId, bucket_seconds, decode_value, encode_value
from consumer.state.store import PartitionStore
from tests.consumer.state.stores import BUCKET_S, T0, WINDOW_S, Clock, Stores

HASH_A = bytes(range(1, 17))
HASH_B = bytes(range(101, 117))


def scored(at_s: float, digest: bytes = HASH_A, offset: int = 0) -> ScoredId:
    return ScoredId(scored_at_s=at_s, content_hash=digest, input_offset=offset)


def sst_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.sst"))


# -- the value layout


def test_value_is_scored_at_ms_then_hash_then_offset_big_endian() -> None:
    value = encode_value(scored(1_700_000_000.123, HASH_A, 42))

    assert len(value) == 32
    assert value[:8] == (1_700_000_000_123).to_bytes(8, "big")
    assert value[8:24] == HASH_A
    assert value[24:] == (42).to_bytes(8, "big", signed=True)
    assert decode_value(value) == scored(1_700_000_000.123, HASH_A, 42)


def test_an_unknown_input_offset_round_trips_as_minus_one() -> None:
    value = encode_value(scored(5.0, UNKNOWN_CONTENT_HASH, -1))

    assert value[24:] == b"\xff" * 8
    restored = decode_value(value)
    assert restored.input_offset == -1
    assert not restored.content_known


def test_a_content_hash_must_have_16_bytes() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        scored(1.0, b"short")


def test_bucket_is_a_seventh_of_the_window_and_at_least_a_second() -> None:
    assert bucket_seconds(7 * 86_400) == 86_400
    assert bucket_seconds(WINDOW_S) == BUCKET_S
    assert bucket_seconds(3.0) == 1


# -- reads and writes


def test_applied_ids_are_found_with_what_was_stored(stores: Stores) -> None:
    store = stores.open()

    written = store.apply({"ev-1": scored(T0, HASH_A, 10), "ev-2": scored(T0 - 1.5, HASH_B, 11)}, 3)

    assert written == 2
    assert store.lookup(["ev-1", "ev-2", "ev-never"]) == {
        "ev-1": scored(T0, HASH_A, 10),
        "ev-2": scored(T0 - 1.5, HASH_B, 11),
    }
    assert store.lookup([]) == {}
    assert store.next_changelog_offset == 3


def test_a_new_store_has_no_changelog_offset(stores: Stores) -> None:
    assert stores.open().next_changelog_offset is None


def test_the_changelog_offset_travels_with_the_data_across_a_reopen(stores: Stores) -> None:
    store = stores.open()
    store.apply({"ev-1": scored(T0, HASH_A, 10)}, 5)
    store.apply({"ev-2": scored(T0, HASH_B, 11)}, 9)
    store.close()

    reopened = stores.open()

    assert reopened.next_changelog_offset == 9
    assert reopened.lookup(["ev-1", "ev-2"]) == {
        "ev-1": scored(T0, HASH_A, 10),
        "ev-2": scored(T0, HASH_B, 11),
    }


def test_an_apply_with_no_ids_still_moves_the_offset(stores: Stores) -> None:
    store = stores.open()
    store.apply({}, 4)
    store.close()

    assert stores.open().next_changelog_offset == 4


def test_a_negative_offset_is_refused(stores: Stores) -> None:
    store = stores.open()

    with pytest.raises(ValueError, match="next_changelog_offset"):
        store.apply({"ev-1": scored(T0)}, -1)
    assert store.lookup(["ev-1"]) == {}


def test_a_closed_store_answers_nothing(stores: Stores) -> None:
    store = stores.new()

    with pytest.raises(StateError, match="not open"):
        store.lookup(["ev-1"])


# -- buckets and expiry


def test_ids_go_to_the_column_family_of_their_bucket(stores: Stores) -> None:
    store = stores.open()

    store.apply({"ev-1": scored(T0 - 25), "ev-2": scored(T0 - 0.001), "ev-3": scored(T0)}, 1)

    # bucket = floor(scored_at / 10 s): 97, 99 and 100
    assert store.live_buckets() == [97, 99, 100]
    store.close()
    assert sorted(Rdict.list_cf(str(stores.path))) == [
        "default",
        "ids-100",
        "ids-97",
        "ids-99",
        "meta",
    ]


def test_an_id_older_than_the_window_is_absent_before_its_bucket_is_dropped(
    stores: Stores, clock: Clock
) -> None:
    store = stores.open()
    store.apply({"old": scored(T0, offset=1), "new": scored(T0 + 65, offset=2)}, 2)
    clock.now = T0 + 65
    assert set(store.lookup(["old", "new"])) == {"old", "new"}

    clock.now = T0 + WINDOW_S + 1  # "old" is 71 s old, its bucket (1000-1010) not over yet

    assert store.lookup(["old", "new"]) == {"new": scored(T0 + 65, offset=2)}
    assert store.expire() == 0
    assert store.live_buckets() == [100, 106]


def test_expire_drops_the_buckets_that_end_before_the_window(stores: Stores, clock: Clock) -> None:
    store = stores.open()
    store.apply({"a": scored(T0), "b": scored(T0 + 9.999), "c": scored(T0 + 65)}, 3)

    dropped = store.expire(now_s=T0 + BUCKET_S + WINDOW_S)  # bucket 100 ends at 1010

    assert dropped == 1
    assert store.live_buckets() == [106]
    clock.now = T0 + BUCKET_S + WINDOW_S
    assert set(store.lookup(["a", "b", "c"])) == {"c"}
    assert store.approximate_ids() == 1
    store.close()
    assert "ids-100" not in Rdict.list_cf(str(stores.path))


def test_ids_already_out_of_the_window_are_not_written(stores: Stores, clock: Clock) -> None:
    store = stores.open()
    clock.now = T0 + 500

    written = store.apply({"stale": scored(T0), "fresh": scored(T0 + 499)}, 8)

    assert written == 1
    assert store.live_buckets() == [149]
    assert store.next_changelog_offset == 8


def test_the_previous_bucket_is_flushed_when_a_new_one_starts(stores: Stores) -> None:
    store = stores.open()
    store.apply({f"ev-{i}": scored(T0 + 1) for i in range(50)}, 1)
    store.apply({f"ev-{i}": scored(T0 + 2) for i in range(50, 100)}, 2)
    assert sst_files(stores.path) == []  # still in the memtable and the WAL

    store.apply({"ev-next-bucket": scored(T0 + BUCKET_S)}, 3)

    assert len(sst_files(stores.path)) >= 1
    assert store.lookup(["ev-0", "ev-99", "ev-next-bucket"]).keys() == {
        "ev-0",
        "ev-99",
        "ev-next-bucket",
    }


def test_a_lookup_reads_every_live_bucket(stores: Stores, clock: Clock) -> None:
    store = stores.open()
    ids = {f"ev-{b}": scored(T0 + b * BUCKET_S, offset=b) for b in range(7)}
    store.apply(ids, 7)
    clock.now = T0 + 69

    assert store.lookup(list(ids)) == ids


# -- open, close, reopen


def test_a_reopen_opens_every_column_family_with_the_bloom_filter(stores: Stores) -> None:
    store = stores.open()
    store.apply({"a": scored(T0), "b": scored(T0 + 30)}, 2)
    store.close()

    reopened = stores.open()

    assert reopened.live_buckets() == [100, 103]
    assert reopened.lookup(["a", "b"]).keys() == {"a", "b"}
    # RocksDB writes the options in effect at each open: had the column families been opened
    # without ours (the rocksdict trap), their filter policy would read nullptr here.
    sections = latest_options(stores.path)
    for cf in ("default", "meta", "ids-100", "ids-103"):
        table = sections[f'TableOptions/BlockBasedTable "{cf}"']
        assert table["filter_policy"] == "bloomfilter"
        assert table["cache_index_and_filter_blocks"] == "false"
        assert sections[f'CFOptions "{cf}"']["write_buffer_size"] == str(16 * 1024 * 1024)
        assert sections[f'CFOptions "{cf}"']["max_write_buffer_number"] == "2"
    assert sections["DBOptions"]["max_total_wal_size"] == str(64 * 1024 * 1024)


def test_close_releases_the_lock_for_a_reopen_in_the_same_process(stores: Stores) -> None:
    first = stores.open()
    first.apply({"a": scored(T0), "b": scored(T0 + 30)}, 2)  # two bucket column families held
    first.lookup(["a"])

    first.close()
    second = stores.open()

    assert second.lookup(["a", "b"]).keys() == {"a", "b"}
    first.close()  # closing twice is harmless


def test_an_open_store_is_locked_and_the_open_is_retried_a_bounded_number_of_times(
    stores: Stores,
) -> None:
    stores.open()
    contender = stores.new(open_attempts=3)

    with pytest.raises(StoreLockedError, match="after 3 attempts"):
        contender.open()
    assert stores.sleeps == [0.25, 0.25]
    assert not contender.is_open


def test_a_store_with_an_empty_current_file_is_corrupted(stores: Stores) -> None:
    store = stores.open()
    store.apply({"a": scored(T0)}, 1)
    store.close()
    (stores.path / "CURRENT").write_bytes(b"")

    with pytest.raises(StoreCorruptedError, match="Corruption"):
        stores.open()


def test_a_store_cut_with_another_bucket_size_is_refused_and_left_closed(stores: Stores) -> None:
    store = stores.open()
    store.apply({"a": scored(T0)}, 1)
    store.close()

    with pytest.raises(StoreIncompatibleError, match="bucket_s 10, configured 20"):
        stores.open(bucket_s=20)
    # The refused open released the lock: the store opens again with its own bucket size.
    assert stores.open().lookup(["a"]).keys() == {"a"}


def test_destroy_removes_the_store(stores: Stores) -> None:
    store = stores.open()
    store.apply({"a": scored(T0)}, 1)
    store.close()

    PartitionStore.destroy(stores.path)

    assert not stores.path.exists()
    fresh = stores.open()
    assert fresh.next_changelog_offset is None
    assert fresh.lookup(["a"]) == {}
    PartitionStore.destroy(stores.path.parent / "never-created")  # a missing store is no error


def test_a_corrupted_store_can_be_destroyed_and_recreated(stores: Stores) -> None:
    store = stores.open()
    store.apply({"a": scored(T0)}, 1)
    store.close()
    (stores.path / "CURRENT").write_bytes(b"")

    PartitionStore.destroy(stores.path)

    assert stores.open().next_changelog_offset is None


# -- what ops see


def test_bytes_on_disk_counts_the_wal_before_any_flush(stores: Stores) -> None:
    store = stores.open()
    ids = {f"{i:036d}": scored(T0, offset=i) for i in range(1_000)}

    store.apply(ids, 1)
    store.flush_wal()

    assert sst_files(stores.path) == []
    assert store.bytes_on_disk() >= 1_000 * (36 + 32)
    assert store.approximate_ids() == 1_000
    store.close()
    assert PartitionStore(stores.path, window_s=WINDOW_S).bytes_on_disk() >= 1_000 * (36 + 32)


def latest_options(path: Path) -> dict[str, dict[str, str]]:
    """The newest OPTIONS file RocksDB wrote, as {section: {key: value}}."""
    newest = max(path.glob("OPTIONS-*"), key=lambda p: int(p.name.removeprefix("OPTIONS-")))
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in newest.read_text().splitlines():
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            current = sections.setdefault(text[1:-1], {})
        elif "=" in text and not text.startswith("#"):
            key, _, value = text.partition("=")
            current[key] = value
    return sections
