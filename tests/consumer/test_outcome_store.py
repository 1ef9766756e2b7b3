"""The outcomes joiner's store: a pair needs all three rows, a row rewritten by key stays one
pair, and rows travel with their offsets (all of a batch, or none of it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from consumer.outcomes.store import (
    ApplicationRow,
    OutcomeRow,
    OutcomeStore,
    ScoreRow,
    StoreBatch,
)
from impact.pairs import PAIR_COLUMNS


def _score(app: str, version: str = "m1", role: str = "champion", pd: float = 0.1) -> ScoreRow:
    return ScoreRow(
        app, version, role, "policy-v2", pd, "B", "approve", "", "2026-11-27T12:00:00+00:00"
    )


def _batch(offset: int = 10) -> StoreBatch:
    return StoreBatch(
        scores=[_score("a1"), _score("a1", "m2", "shadow", 0.3), _score("a2"), _score("a3")],
        applications=[
            ApplicationRow("a1", 1000.0, "25-34", "married"),
            ApplicationRow("a2", 500.0, "<25", "single"),
        ],
        outcomes=[
            OutcomeRow("a1", True, "2026-12-01T09:00:00+00:00", "servicing"),
            OutcomeRow("a3", False, "2026-12-01T09:00:00+00:00", "servicing"),
        ],
        next_offsets={("scores", 0): offset, ("outcomes", 1): 7},
    )


def test_a_pair_needs_its_score_its_application_and_its_outcome(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.sqlite3")
    store.apply(_batch())
    pairs = store.pairs()
    # a2 has no outcome yet, a3 no application: only a1's two scores are pairs.
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    assert sorted(
        zip(pairs["application_id"], pairs["model_version"], pairs["role"], strict=True)
    ) == [
        ("a1", "m1", "champion"),
        ("a1", "m2", "shadow"),
    ]
    assert pairs["defaulted"].tolist() == [True, True]
    assert pairs["pd"].tolist() == [0.1, 0.3]
    assert pairs["exposure"].tolist() == [1000.0, 1000.0]
    assert store.counts() == {"scores": 4, "applications": 2, "outcomes": 2, "pairs": 2}


def test_a_batch_applied_twice_still_makes_each_pair_once(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.sqlite3")
    store.apply(_batch())
    store.apply(_batch())
    assert store.counts() == {"scores": 4, "applications": 2, "outcomes": 2, "pairs": 2}


def test_a_later_score_of_the_same_key_replaces_the_earlier(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.sqlite3")
    store.apply(_batch())
    store.apply(
        StoreBatch(scores=[_score("a1", pd=0.2)], applications=[], outcomes=[], next_offsets={})
    )
    pairs = store.pairs()
    assert pairs.loc[pairs["role"] == "champion", "pd"].tolist() == [0.2]


def test_offsets_survive_a_reopen_and_only_the_asked_partitions_come_back(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    store = OutcomeStore(path)
    store.apply(_batch(offset=10))
    store.close()
    reopened = OutcomeStore(path)
    assert reopened.next_offsets([("scores", 0), ("scores", 1)]) == {("scores", 0): 10}
    assert reopened.counts()["pairs"] == 2


def test_a_failed_batch_leaves_neither_its_rows_nor_its_offsets(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "o.sqlite3")
    store.apply(_batch(offset=10))
    broken = StoreBatch(
        scores=[_score("a9")],
        applications=[ApplicationRow("a9", 1.0, "<25", None)],  # type: ignore[arg-type]  # the fault
        outcomes=[],
        next_offsets={("scores", 0): 99},
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.apply(broken)
    assert store.next_offsets([("scores", 0)]) == {("scores", 0): 10}
    assert store.counts()["scores"] == 4


def test_the_exported_pairs_read_back_as_the_report_reads_them(tmp_path: Path) -> None:
    from consumer.outcomes.service import export_pairs
    from impact.pairs import read_pairs

    path = tmp_path / "o.sqlite3"
    store = OutcomeStore(path)
    store.apply(_batch())
    expected = store.pairs()
    store.close()
    assert export_pairs(path, tmp_path / "pairs.csv") == 2
    read = read_pairs(tmp_path / "pairs.csv")
    assert read["application_id"].tolist() == expected["application_id"].tolist()
    assert read["pd"].tolist() == expected["pd"].tolist()
    assert read["role"].tolist() == ["champion", "shadow"]
    with pytest.raises(FileNotFoundError):
        export_pairs(tmp_path / "none.sqlite3", tmp_path / "x.csv")
