"""The fault suite's verdict refuses each defect it names, a doubled dead letter included."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from tests.faults.stream import CommittedReader, Verdict

CLEAN = Verdict(
    lost=0,
    duplicated=0,
    dead_letters_lost=0,
    dead_letters_duplicated=0,
    out_of_order_keys=[],
    uncommitted_partitions={},
    reader_saw_twice=0,
    reader_saw_then_missing=0,
)


def test_a_clean_verdict_passes_both_checks() -> None:
    CLEAN.assert_exactly_once()
    CLEAN.assert_at_least_once()


@pytest.mark.parametrize(
    "defect",
    [
        {"lost": 1},
        {"duplicated": 1},
        {"dead_letters_lost": 1},
        {"dead_letters_duplicated": 1},
        {"out_of_order_keys": ["app-0001"]},
        {"uncommitted_partitions": {0: (10, 12)}},
        {"reader_saw_twice": 1},
        {"reader_saw_then_missing": 1},
    ],
)
def test_exactly_once_refuses_every_defect(defect: dict[str, object]) -> None:
    with pytest.raises(AssertionError):
        replace(CLEAN, **defect).assert_exactly_once()  # type: ignore[arg-type]


def test_at_least_once_allows_duplicates_only() -> None:
    replace(CLEAN, duplicated=3, dead_letters_duplicated=2).assert_at_least_once()
    with pytest.raises(AssertionError):
        replace(CLEAN, lost=1).assert_at_least_once()


def _reader_that_saw(count: int) -> CommittedReader:
    reader = CommittedReader.__new__(CommittedReader)  # no broker: only the count matters here
    reader.seen = [f"event-{i}" for i in range(count)]
    reader._lock = threading.Lock()
    return reader


def test_a_fault_lands_mid_stream_only_with_output_both_committed_and_left() -> None:
    assert _reader_that_saw(40).assert_mid_stream(100, "a fault") == 40
    with pytest.raises(AssertionError, match="did not land mid-stream: 100 of 100"):
        _reader_that_saw(100).assert_mid_stream(100, "a fault")
    with pytest.raises(AssertionError, match="did not land mid-stream: 0 of 100"):
        _reader_that_saw(0).assert_mid_stream(100, "a fault")
