"""`make bench-state`'s pure side: the events it generates, the arithmetic on what it sampled,
the JSON line and the tables. No broker, no clock, no process: unit-tested in tests/benchmarks/.

The measuring (producing, the scorer process, its restarts) is state_bench.py.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from benchmarks.stats import json_line as stats_json_line
from benchmarks.stats import table
from schemas.examples import example_application

TEN_MILLION: Final = 10_000_000
EDGE_IDS: Final = 200_000  # ids timed at each end: "state near 0" and "state at N"
RESTART_EVENTS: Final = 1_000  # new events produced for each restart

# Targets from issue 22, item 7.
TARGET_RSS_MB_PER_MILLION: Final = 50.0
TARGET_RESTART_S: Final = 10.0
TARGET_COLD_RESTORE_S_AT_10M: Final = 120.0
TARGET_EPS_RATIO_VS_IN_MEMORY: Final = 0.9

JSON_KEYS: Final = (
    "ids", "scorer_eps_at_0", "scorer_eps_at_n", "rss_mb_start", "rss_mb_at_200k", "rss_mb_at_n",
    "rss_mb_per_million", "state_bytes_on_disk", "restart_first_score_s", "kill9_first_score_s",
    "cold_restore_s", "cold_first_score_s", "restored_records_cold", "baseline_eps_at_0",
    "baseline_eps_at_n", "eps_ratio_at_0", "eps_ratio_at_n", "baseline_rss_mb_per_million",
    "commit", "date", "machine",
)  # fmt: skip
BASELINE_KEYS: Final = (
    "baseline_commit", "baseline_eps_at_0", "baseline_eps_at_n", "baseline_rss_mb_start",
    "baseline_rss_mb_at_n", "baseline_rss_mb_per_million",
)  # fmt: skip

_EVENT_ID_MARK: Final = "00000000-0000-4000-8000-000000000000"
_APPLICATION_ID_MARK: Final = "application-id-mark"


class EventTemplate:
    """N distinct valid application events from one: the example application's JSON with its
    `event_id` and `application_id` replaced by byte formatting (no model, no JSON encoder per
    event). Event `i` has the event id `<run's 20 hex digits>-<i, 12 hex digits>` (a canonical
    UUID, version 4) and the application id (also the record key) `sb-<run tag>-<i>`."""

    def __init__(self, run_hex: str | None = None) -> None:
        run_hex = run_hex or uuid.uuid4().hex
        if not re.fullmatch(r"[0-9a-f]{32}", run_hex):
            raise ValueError("run_hex must be 32 lowercase hex digits")
        raw = orjson.dumps(
            example_application(event_id=_EVENT_ID_MARK, application_id=_APPLICATION_ID_MARK)
        ).replace(b"%", b"%%")
        id_head = f"{run_hex[:8]}-{run_hex[8:12]}-4{run_hex[13:16]}-8{run_hex[17:20]}-"
        self.key_format = f"sb-{run_hex[20:28]}-%d".encode()
        if raw.index(_EVENT_ID_MARK.encode()) > raw.index(_APPLICATION_ID_MARK.encode()):
            raise ValueError("the template assumes event_id comes before application_id")
        self._value_format = raw.replace(_EVENT_ID_MARK.encode(), id_head.encode() + b"%012x")
        self._value_format = self._value_format.replace(
            _APPLICATION_ID_MARK.encode(), self.key_format
        )

    def key(self, index: int) -> bytes:
        return self.key_format % index

    def value(self, index: int) -> bytes:
        return self._value_format % (index, index)


def edge_ids(ids: int) -> int:
    """How many ids are timed at each end: 200,000, or half of a smaller run."""
    if ids < 2:
        raise ValueError("a run needs at least 2 ids")
    return min(EDGE_IDS, ids // 2)


def cold_restore_target_s(ids: int) -> float:
    """The cold-restore target scaled to the run: 120 s for 10 M ids, in proportion."""
    return TARGET_COLD_RESTORE_S_AT_10M * ids / TEN_MILLION


# -- what was sampled ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.monotonic()
    committed: int  # input records the scorer's group has committed (each one id scored)
    rss_mb: float  # the scorer's VmRSS


def first_at_least(samples: Sequence[Sample], committed: int) -> Sample | None:
    """The first sample with at least `committed` inputs committed."""
    return next((s for s in samples if s.committed >= committed), None)


def window_eps(samples: Sequence[Sample], start: int, end: int) -> float | None:
    """Events per second from the first sample at `start` (at least one commit: the start-up
    before the first batch is not throughput) to the first one at `end`; None without both."""
    first = first_at_least(samples, max(start, 1))
    last = first_at_least(samples, end)
    if first is None or last is None or last.at <= first.at:
        return None
    return (last.committed - first.committed) / (last.at - first.at)


def rss_mb_per_million(rss_at_edge: float, rss_at_n: float, ids: int, edge: int) -> float:
    """RSS growth per million ids held, from `edge` ids to `ids`."""
    if ids <= edge:
        raise ValueError("ids must exceed the edge")
    return (rss_at_n - rss_at_edge) / ((ids - edge) / 1e6)


@dataclass(frozen=True, slots=True)
class ReadyPoll:
    at_s: float  # seconds since the process was started
    status: int  # /readyz's status code
    restoring: bool  # its body said "restoring state"


def ready_after_restore(polls: Sequence[ReadyPoll]) -> float | None:
    """When /readyz answered 200 after the restore: the first 200 after the last poll that said
    "restoring state"; when no poll saw a restore (it took less than a poll), the first 200."""
    last_restoring = max((i for i, p in enumerate(polls) if p.restoring), default=-1)
    return next((p.at_s for p in polls[last_restoring + 1 :] if p.status == 200), None)


def ready_before_restore(polls: Sequence[ReadyPoll]) -> bool:
    """/readyz said 200 before a restore was first seen (before the partitions were assigned and
    their stores caught up): readiness that does not yet know about the restore to come."""
    first_restoring = next((i for i, p in enumerate(polls) if p.restoring), None)
    return first_restoring is not None and any(p.status == 200 for p in polls[:first_restoring])


def metric_sum(exposition: str, name: str) -> float:
    """The sum of a metric's series on a Prometheus exposition (a counter's `_total`)."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith((f"{name} ", f"{name}{{")):
            total += float(line.rpartition(" ")[2])
    return total


def bytes_under(path: Path) -> int:
    """The size of every file under `path` (du, by apparent size); 0 if it is missing."""
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(directory) / name).stat().st_size
            except FileNotFoundError:  # a WAL or SST file RocksDB deleted meanwhile
                continue
    return total


def reference_bench(results_md: str) -> dict[str, Any] | None:
    """The last `make bench` JSON line in benchmarks/RESULTS.md (one with `scorer_eps`)."""
    for line in reversed(results_md.splitlines()):
        if line.startswith("{") and '"scorer_eps"' in line:
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


@dataclass(frozen=True)
class Restart:
    """One restart, its times from the process start (Python's start-up included)."""

    name: str
    stop_s: float | None  # SIGTERM to exit; None for kill -9
    ready_s: float | None  # to /readyz 200 after the restore (`ready_after_restore`)
    first_score_s: float | None  # to the first new score committed
    all_scores_s: float | None  # to the last of the new events' scores committed
    restored_records: float | None  # loan_scorer_state_restore_records_total afterwards
    ids_held: float | None  # loan_scorer_state_ids afterwards (RocksDB's estimate)
    ready_before_restore: bool


_RSS_KEYS: Final = ("rss_mb_start", "rss_mb_at_200k", "rss_mb_at_n", "rss_mb_per_million")


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarize(
    filled: dict[str, Any], restarts: Sequence[Restart], provenance: dict[str, Any]
) -> dict[str, Any]:
    """The JSON line's content: `filled` is what state_bench's fill measured, `restarts` the
    SIGTERM, kill -9 and cold restarts in that order, `provenance` the commit, date, machine
    and the reference `make bench` line (or {})."""
    restart, kill9, cold = restarts
    reference = provenance.get("reference") or {}
    baseline = {key: filled.get(key) for key in BASELINE_KEYS}
    return {
        "ids": filled["ids"],
        **{key: _rounded(filled[key], 0) for key in ("scorer_eps_at_0", "scorer_eps_at_n")},
        **{key: round(filled[key], 1) for key in _RSS_KEYS},
        "state_bytes_on_disk": filled["state_bytes_on_disk"],
        "restart_first_score_s": _rounded(restart.first_score_s, 2),
        "kill9_first_score_s": _rounded(kill9.first_score_s, 2),
        "cold_restore_s": _rounded(cold.ready_s, 2),
        "cold_first_score_s": _rounded(cold.first_score_s, 2),
        "restored_records_cold": cold.restored_records,
        **{k: v if isinstance(v, str) else _rounded(v, 1) for k, v in baseline.items()},
        "eps_ratio_at_0": eps_ratio(filled["scorer_eps_at_0"], baseline["baseline_eps_at_0"]),
        "eps_ratio_at_n": eps_ratio(filled["scorer_eps_at_n"], baseline["baseline_eps_at_n"]),
        **{key: provenance[key] for key in ("commit", "date", "machine")},
        "edge_ids": filled["edge_ids"],
        "restored_records_restart": restart.restored_records,
        "restored_records_kill9": kill9.restored_records,
        "restored_ids_cold": cold.ids_held,
        **{key: filled[key] for key in ("state_bytes_metric", "state_ids_metric")},
        "produce_eps": round(filled["produce_eps"]),
        **{f"reference_{key}": reference.get(key) for key in ("scorer_eps", "commit", "date")},
    }


def eps_ratio(store_eps: float | None, baseline_eps: float | None) -> float | None:
    """The store's events/s over the in-memory baseline's, measured in the same run; None
    without both."""
    if store_eps is None or not baseline_eps:
        return None
    return round(store_eps / baseline_eps, 3)


# -- the report ---------------------------------------------------------------------------------


def json_line(summary: dict[str, Any]) -> str:
    """The agreed keys of this bench first, in their order, then any extra."""
    return stats_json_line(summary, JSON_KEYS)


def _met(value: float | None, bound: float) -> str:
    return "-" if value is None else ("yes" if value <= bound else "**no**")


def _num(value: float | None, fmt: str = ",.1f") -> str:
    return "-" if value is None else format(value, fmt)


def target_rows(summary: dict[str, Any]) -> list[list[object]]:
    ids = int(summary["ids"])
    cold = cold_restore_target_s(ids)
    targets = (  # (what, key, format, bound, how the bound reads)
        ("RSS growth per million ids held (MB)", "rss_mb_per_million", ",.1f",
         TARGET_RSS_MB_PER_MILLION, f"{TARGET_RSS_MB_PER_MILLION:g}"),
        ("restart (SIGTERM) to first new committed score (s)", "restart_first_score_s", ".2f",
         TARGET_RESTART_S, f"{TARGET_RESTART_S:g}"),
        ("restart after kill -9 to first new committed score (s)", "kill9_first_score_s", ".2f",
         TARGET_RESTART_S, f"{TARGET_RESTART_S:g}"),
        (f"cold restore of {ids:,} ids to /readyz 200 (s)", "cold_restore_s", ".2f",
         cold, f"{cold:.3g} (120 for 10 M, scaled)"),
    )  # fmt: skip
    rows: list[list[object]] = [
        [what, _num(summary[key], fmt), f"<= {reads}", _met(summary[key], bound)]
        for what, key, fmt, bound, reads in targets
    ]
    ratio = summary.get("eps_ratio_at_0")
    rows.append(
        [
            "throughput at 0 ids / the in-memory store's, same run",
            _num(ratio, ".3f"),
            f">= {TARGET_EPS_RATIO_VS_IN_MEMORY:g}",
            "not measured (no baseline run)"
            if ratio is None
            else ("yes" if ratio >= TARGET_EPS_RATIO_VS_IN_MEMORY else "**no**"),
        ]
    )
    return rows


def tables(summary: dict[str, Any], restarts: Iterable[Restart]) -> str:
    """The run as Markdown: what was measured, each restart, the targets, and the notes."""
    ids, edge = int(summary["ids"]), int(summary["edge_ids"])
    eps_0 = _num(summary["scorer_eps_at_0"], ",.0f")
    eps_n = _num(summary["scorer_eps_at_n"], ",.0f")
    measured = table(
        ["measure", "value"],
        [
            ["ids scored (distinct, valid)", f"{ids:,}"],
            [f"scorer events/s, first {edge:,} ids (state near 0)", eps_0],
            [f"scorer events/s, last {edge:,} ids (state at N)", eps_n],
            ["RSS MB at start (ready)", _num(summary["rss_mb_start"])],
            [f"RSS MB after {edge:,} ids", _num(summary["rss_mb_at_200k"])],
            [f"RSS MB at {ids:,} ids", _num(summary["rss_mb_at_n"])],
            ["RSS growth MB per million ids held", _num(summary["rss_mb_per_million"])],
            ["state on disk at N, bytes (du)", f"{summary['state_bytes_on_disk']:,}"],
            ["state on disk, bytes per id", _num(summary["state_bytes_on_disk"] / ids)],
            ["loan_scorer_state_ids at N", _num(summary.get("state_ids_metric"), ",.0f")],
            ["producing, events/s (not the scorer)", _num(summary.get("produce_eps"), ",.0f")],
        ],
    )
    baseline_table = table(
        ["same N events", "state store (this commit)", "in-memory dict (baseline)", "ratio"],
        [
            [f"events/s, first {edge:,} ids", eps_0,
             _num(summary.get("baseline_eps_at_0"), ",.0f"),
             _num(summary.get("eps_ratio_at_0"), ".3f")],
            [f"events/s, last {edge:,} ids", eps_n,
             _num(summary.get("baseline_eps_at_n"), ",.0f"),
             _num(summary.get("eps_ratio_at_n"), ".3f")],
            [f"RSS MB at {ids:,} ids", _num(summary["rss_mb_at_n"]),
             _num(summary.get("baseline_rss_mb_at_n")), ""],
            ["RSS growth MB per million ids held", _num(summary["rss_mb_per_million"]),
             _num(summary.get("baseline_rss_mb_per_million")), ""],
        ],
    )  # fmt: skip
    restart_table = table(
        [
            "restart",
            "stop s",
            "start to /readyz 200 after restore s",
            "start to first new committed score s",
            f"start to all {RESTART_EVENTS:,} new scores s",
            "changelog records restored",
            "loan_scorer_state_ids after",
            "/readyz 200 before the restore",
        ],
        [
            [
                r.name,
                *(_num(s, ".2f") for s in (r.stop_s, r.ready_s, r.first_score_s, r.all_scores_s)),
                *(_num(n, ",.0f") for n in (r.restored_records, r.ids_held)),
                "yes" if r.ready_before_restore else "no",
            ]
            for r in restarts
        ],
    )
    targets = table(["target", "value", "bound", "met"], target_rows(summary))
    reference = summary.get("reference_scorer_eps")
    note_reference = (
        f"For reference only, the last `make bench` in benchmarks/RESULTS.md (commit "
        f"{summary.get('reference_commit')}, {summary.get('reference_date')}) scored {reference:,} "
        f"events/s, on 40,000 real applications (1 % broken) in rounds: another "
        f"load and harness than this run's one example application."
        if reference
        else "benchmarks/RESULTS.md holds no `make bench` line to refer to."
    )
    return (
        f"### State store at {ids:,} ids (`make bench-state`, exactly-once, one scorer, "
        f"6 partitions)\n\n{measured}\n\n"
        f"### Against the in-memory store (baseline {summary.get('baseline_commit') or 'not run'}"
        f", the same input topic, run first)\n\n{baseline_table}\n\n"
        f"### Restarts ({RESTART_EVENTS:,} new events produced before each start; times from "
        f"the process start, Python start-up included)\n\n{restart_table}\n\n"
        f"### Targets\n\n{targets}\n\n"
        f"Throughput is the group's committed input offsets over time (under exactly-once, the "
        f"inputs whose scores are committed). The cold-restore target is 120 s for 10 M ids, "
        f"scaled here to {ids:,}; the cold time includes the start-up every restart pays (the "
        f"SIGTERM restart's /readyz 200 above), which dominates a small run. Records restored "
        f"are changelog offsets (one record per batch and input partition, holding its ids, and "
        f"the transaction markers), not ids; the ids held after are RocksDB's estimate. A member "
        f"killed with -9 keeps its partitions until its session expires (session.timeout.ms "
        f"10 s after its last heartbeat), so that restart cannot score sooner. A partition's "
        f"restore starts at its first batch: until then /readyz may answer 200. The baseline "
        f"is the last commit whose scorer kept the ids in a Python dict, run from a git "
        f"worktree of it on the same events before the store's run; the two ran one after the "
        f"other on the same machine, so the ratio carries the machine's drift between them. "
        f"{note_reference}"
    )
