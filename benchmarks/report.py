"""What `make bench` tells of a run: the summary that becomes its JSON line, and the tables.

The measurements (phases.py) only measure; which numbers a run is judged by (the JSON line's
keys, the targets from the performance issue, the latency alert's bound) and how they read are
decided here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.phases import VARIANTS, Latency, Run, Sizes
from benchmarks.provenance import git_commit, machine
from benchmarks.stats import Rounds, highest_rate_within, percentile, table
from benchmarks.testbed import BATCH_MAX_EVENTS

P99_ALERT_MS = 50.0  # LoanScorerEndToEndLatencyHigh, and the dashboard's red line

TARGETS = (  # (key, bound, "<=" or ">=") from the performance issue
    ("score_batch_1_ms", 2.0, "<="),
    ("api_p99_ms", 10.0, "<="),
    ("ratio_vs_passthrough", 0.5, ">="),
    ("speedup_vs_naive", 30.0, ">="),
    ("p99_ms_idle", P99_ALERT_MS, "<="),
    ("p99_ms_at_80pct", P99_ALERT_MS, "<="),
)


@dataclass(frozen=True)
class BenchResults:
    """Everything one run measured."""

    sizes: Sizes
    runs: dict[str, list[Run]]  # each variant's counted rounds
    rates: dict[str, Rounds]  # each variant's events/s over those rounds
    loaded: list[Latency]  # the scorer at each offered load
    control: list[Latency]  # the passthrough at the scorer's 80 %
    api: Latency  # /v1/score alone
    rescore_eps: float
    profile_us: dict[str, float]  # µs per event, by stage
    score_one_ms: float  # score_batch of one application
    scorer_peak_rss_mb: list[float]  # of every scorer process
    exactly_once_checked: bool  # no problem of any kind so far


def summary(results: BenchResults) -> dict[str, Any]:
    """The run in numbers, the JSON line's keys in its order (`stats.json_line` puts the agreed
    ones first)."""
    rates, runs, sizes = results.rates, results.runs, results.sizes
    scorer_eps = rates["scorer"].median
    passthrough_eps = rates["passthrough"].median
    by_name = {latency.name: latency for latency in [*results.loaded, *results.control]}

    def p99(name: str) -> float | None:
        ms = by_name[name].ms
        return round(percentile(ms, 99), 1) if ms else None

    busy_80 = by_name["80 % of max"].cpu_busy_pct
    api_ms = results.api.ms
    return {
        "scorer_eps": round(scorer_eps),
        "passthrough_eps": round(passthrough_eps),
        "naive_eps": round(rates["naive"].median, 1),
        "ratio_vs_passthrough": round(scorer_eps / passthrough_eps, 3),
        "speedup_vs_naive": round(scorer_eps / rates["naive"].median, 1),
        "p99_ms_idle": p99("idle trickle"),
        "p99_ms_at_50pct": p99("50 % of max"),
        "p99_ms_at_80pct": p99("80 % of max"),
        # the same rate through the passthrough: exactly-once Kafka's own share
        "passthrough_p99_ms_at_80pct": p99("passthrough, 80 % of max"),
        # both cores' busy share while the scorer took 80 % of its maximum
        "cpu_busy_pct_at_80pct": round(busy_80, 1) if busy_80 is not None else None,
        # The highest offered rate whose p99 (and every lower one's) kept within the alert
        "eps_within_p99_50ms": round(
            highest_rate_within(
                [(latency.rate, p99(latency.name)) for latency in results.loaded], P99_ALERT_MS
            )
        ),
        "api_p99_ms": round(percentile(api_ms, 99), 2),
        "cpu_s_per_1000_events": round(
            Rounds(tuple(r.cpu_s_per_1000 for r in runs["scorer"])).median, 3
        ),
        "peak_rss_mb": round(max(results.scorer_peak_rss_mb), 1),
        "rescore_eps": round(results.rescore_eps),
        "score_batch_1_ms": round(results.score_one_ms, 3),
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "api_p50_ms": round(percentile(api_ms, 50), 2),
        "scorer_api_eps": round(rates["scorer+api"].median),
        # /v1/score beside the stream at full speed, each round's p99, the median of them
        "api_p99_ms_beside_stream": round(
            Rounds(tuple(percentile(r.api_ms, 99) for r in runs["scorer+api"] if r.api_ms)).median,
            1,
        )
        if any(r.api_ms for r in runs["scorer+api"])
        else None,
        "rounds": sizes.rounds,
        "events_per_run": sizes.throughput_events,
        "exactly_once_checked": results.exactly_once_checked,
        "latency_to": "first sight by a read_committed reader (fetch.wait.max.ms=10)",
    }


def target_rows(summary: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for key, bound, sense in TARGETS:
        value = summary.get(key)
        met = value is not None and (value <= bound if sense == "<=" else value >= bound)
        rows.append([key, value, f"{sense} {bound:g}", "yes" if met else "**no**"])
    return rows


def tables(summary: dict[str, Any], results: BenchResults) -> str:
    """The run as Markdown: throughput, latency, per stage, targets."""
    rates, runs = results.rates, results.runs
    throughput = table(
        [
            "variant",
            "events/s, median (± half-range)",
            "rounds",
            "CPU s / 1,000 events",
            "peak RSS MB",
            "exactly once",
        ],
        [
            [
                variant,
                rates[variant],
                ", ".join(f"{r.events_per_s:,.0f}" for r in runs[variant]),
                f"{Rounds(tuple(r.cpu_s_per_1000 for r in runs[variant])).median:.3f}",
                f"{max(r.peak_rss_mb for r in runs[variant]):.0f}",
                "yes" if not any(r.problems for r in runs[variant]) else "**no**",
            ]
            for variant in VARIANTS
        ],
    )
    latency = table(
        [
            "offered load",
            "events/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "p99 ms to scorer's produce",
            "p99 ms sender late",
            "machine CPU busy %",
            "samples",
            "missing",
        ],
        [latency.row() for latency in [*results.loaded, *results.control, results.api]],
    )
    stages = table(
        ["stage", "µs / event"], [[name, f"{us:,.1f}"] for name, us in results.profile_us.items()]
    )
    targets = table(["target", "value", "bound", "met"], target_rows(summary))
    return (
        f"### Throughput (exactly-once, {summary['events_per_run']:,} events per run)\n\n"
        f"{throughput}\n\n"
        f"### End-to-end latency (occurred_at to committed score) and `/v1/score`\n\n{latency}\n\n"
        f"### Per stage (batches of {BATCH_MAX_EVENTS})\n\n{stages}\n\n"
        f"rescore: {summary['rescore_eps']:,} events/s; score_batch of one application: "
        f"{summary['score_batch_1_ms']} ms\n\n"
        f"### Targets\n\n{targets}"
    )
