"""The outcomes joiner's store: scores, applications and outcomes by key, and the consumer offsets
they were read up to, in one embedded SQLite database committed as one transaction per batch.

Why SQLite here: the three streams meet weeks or months apart (an outcome long after its score),
so the join needs a durable table looked up by key, and the metrics need a scan of every pair;
an embedded database gives both, and its atomic commit puts the rows and the offsets they came
from in one durable write. A `kill -9` at any point leaves either the batch with its offsets or
neither: the restart reads from the stored offsets again (never from Kafka's committed offsets,
which are only a lag gauge for ops), so no pair is lost. Every row is written by its key
(INSERT OR REPLACE on (application_id, model_version, role) for scores, application_id for the
rest), so a record read twice still makes one pair: no pair is doubled either.

Production equivalent: the same three tables and the offsets table in PostgreSQL, written in one
transaction per batch (the "offsets stored with the output" pattern of the Kafka consumer
documentation), so the joiner can move between nodes; or SQLite on a persistent volume of a
one-replica StatefulSet, as the chart would run it. One joiner instance owns all partitions: the
metrics are computed over every pair at once, which a split by partition could not aggregate.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from impact.pairs import PAIR_COLUMNS, coerce_pairs, empty_pairs

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS scores (
    application_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    role TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    pd REAL NOT NULL,
    grade TEXT NOT NULL,
    decision TEXT NOT NULL,
    knock_outs TEXT NOT NULL,
    scored_at TEXT NOT NULL,
    PRIMARY KEY (application_id, model_version, role)
);
CREATE TABLE IF NOT EXISTS applications (
    application_id TEXT PRIMARY KEY,
    exposure REAL NOT NULL,
    age_band TEXT NOT NULL,
    marital_status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    application_id TEXT PRIMARY KEY,
    defaulted INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""

_PAIRS_QUERY: Final = """
SELECT s.application_id, s.model_version, s.role, s.policy_version, s.pd, s.grade, s.decision,
       s.knock_outs, o.defaulted, a.exposure, a.age_band, a.marital_status, s.scored_at,
       o.observed_at
FROM scores s
JOIN outcomes o ON o.application_id = s.application_id
JOIN applications a ON a.application_id = s.application_id
ORDER BY s.application_id, s.model_version, s.role
"""


@dataclass(frozen=True, slots=True)
class ScoreRow:
    application_id: str
    model_version: str
    role: str
    policy_version: str
    pd: float
    grade: str
    decision: str
    knock_outs: str  # space-separated KO codes, "" when none
    scored_at: str  # RFC 3339, UTC


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    application_id: str
    exposure: float
    age_band: str
    marital_status: str


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    application_id: str
    defaulted: bool
    observed_at: str  # RFC 3339, UTC
    source: str


@dataclass
class StoreBatch:
    """What one consumed batch adds, and the offset after its last record per partition."""

    scores: list[ScoreRow]
    applications: list[ApplicationRow]
    outcomes: list[OutcomeRow]
    next_offsets: Mapping[tuple[str, int], int]


class OutcomeStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun and committed explicitly below.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # durable at commit, power loss included
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def apply(self, batch: StoreBatch) -> None:
        """Rows and offsets in one transaction: all of the batch is stored, or none of it."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.application_id,
                        r.model_version,
                        r.role,
                        r.policy_version,
                        r.pd,
                        r.grade,
                        r.decision,
                        r.knock_outs,
                        r.scored_at,
                    )
                    for r in batch.scores
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO applications VALUES (?, ?, ?, ?)",
                [
                    (r.application_id, r.exposure, r.age_band, r.marital_status)
                    for r in batch.applications
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?)",
                [
                    (r.application_id, int(r.defaulted), r.observed_at, r.source)
                    for r in batch.outcomes
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO offsets VALUES (?, ?, ?)",
                [
                    (topic, partition, offset)
                    for (topic, partition), offset in batch.next_offsets.items()
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def next_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The stored offset to resume each partition from (absent: never read)."""
        wanted = set(partitions)
        rows = self._db.execute("SELECT topic, partition, next_offset FROM offsets").fetchall()
        return {(t, p): o for t, p, o in rows if (t, p) in wanted}

    def counts(self) -> dict[str, int]:
        """Rows per table, and joined pairs."""
        counts = {
            table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608  # fixed table names
            for table in ("scores", "applications", "outcomes")
        }
        counts["pairs"] = int(
            self._db.execute(f"SELECT COUNT(*) FROM ({_PAIRS_QUERY})").fetchone()[0]  # noqa: S608  # a constant query
        )
        return counts

    def pairs(self) -> pd.DataFrame:
        """Every joined pair as the `impact.pairs` frame (validated)."""
        frame = pd.read_sql_query(_PAIRS_QUERY, self._db)
        if frame.empty:
            return empty_pairs()
        frame["defaulted"] = frame["defaulted"].astype(bool)
        return coerce_pairs(frame[list(PAIR_COLUMNS)])
