"""The fault suite's verdict refuses each defect it names, a doubled dead letter included."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.faults.stream import Verdict

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
