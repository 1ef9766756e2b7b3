"""The benchmark's pure helpers: percentiles, round summaries, the send timetable, the
exactly-once check and the report. No broker, no clock of their own: unit-tested in
tests/benchmarks/."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with at least p % of the values at or
    below it (so p99 of 100 samples is the 99th smallest, never an interpolation)."""
    if not values:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Rounds:
    """One measure over several rounds: the median, and the spread as the range around it."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent: how far apart the rounds were."""
        median = self.median
        return 100 * (max(self.values) - min(self.values)) / median if median else 0.0

    def __str__(self) -> str:
        return f"{self.median:,.0f} (±{self.spread_pct / 2:.0f} %)"


# -- a send timetable free of coordinated omission ---------------------------------------------


def timetable(start: float, rate_per_s: float, count: int) -> list[float]:
    """When each of `count` sends is due at a fixed rate: start + i / rate. Latency is measured
    from these times, never from when the sender got round to a send."""
    if rate_per_s <= 0:
        raise ValueError("rate must be positive")
    return [start + i / rate_per_s for i in range(count)]


def on_schedule(
    due: Sequence[float], clock: Callable[[], float], sleep: Callable[[float], object]
) -> Iterator[tuple[int, float]]:
    """Yield (index, due time) for each slot, sleeping until it is due. A late sender catches up
    by sending at once: no slot is skipped or moved, so a stall shows up in the latencies."""
    for index, when in enumerate(due):
        while (delay := when - clock()) > 0:  # a sleep may end early (a poll that served)
            sleep(delay)
        yield index, when


# librdkafka's poll() takes whole milliseconds and confluent-kafka truncates: poll(0.0004) is
# poll(0), which returns at once, so a sender waiting for a slot under 1 ms away spins a core.
POLL_GRANULARITY_S = 0.001


def poll_wait_s(delay: float) -> float:
    """How long to poll() for a slot `delay` seconds away: at least librdkafka's 1 ms. A slot is
    then sent up to 1 ms late, which the latencies count (they run from the due time)."""
    return max(delay, POLL_GRANULARITY_S)


def highest_rate_within(
    p99_by_rate: Sequence[tuple[float, float | None]], bound_ms: float
) -> float:
    """The highest offered rate (events/s) up to which every measured p99 kept within
    `bound_ms`: where the shipped latency alert starts to fire on this machine. A rate past the
    first breach does not count even if its p99 is lower (that is noise, not capacity); a
    phase with no samples (None) is a breach. 0.0 if even the lowest rate breached."""
    highest = 0.0
    for rate, p99 in sorted(p99_by_rate, key=lambda pair: pair[0]):
        if p99 is None or p99 > bound_ms:
            break
        highest = rate
    return highest


def cpu_ticks(proc_stat_first_line: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs from /proc/stat's first line ("cpu  user nice
    system idle iowait irq softirq steal ..."); idle and iowait are not busy, guest time is
    already inside user."""
    fields = [int(value) for value in proc_stat_first_line.split()[1:9]]
    total = sum(fields)
    return total - fields[3] - fields[4], total


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of every CPU's time that was busy between two `cpu_ticks` readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return 100.0 * busy / total if total > 0 else 0.0


def latencies_ms(due: dict[bytes, float], seen: dict[bytes, float]) -> list[float]:
    """Per key, from its due (scheduled send, = occurred_at) time to when its score was seen."""
    return [1000 * (seen[key] - when) for key, when in due.items() if key in seen]


# -- exactly once, checked on what was committed -----------------------------------------------


def delivery_problems(
    committed_inputs: int, output_keys: Sequence[bytes | None], input_keys: set[bytes]
) -> list[str]:
    """Every committed input must be in the outputs (scores + dead letters) exactly once: same
    count, no key twice, no key that was never sent. Returns what is wrong; empty if nothing."""
    problems = []
    if len(output_keys) != committed_inputs:
        problems.append(f"{committed_inputs} inputs committed but {len(output_keys)} outputs")
    repeated = [key for key, n in Counter(output_keys).items() if n > 1]
    if repeated:
        problems.append(f"{len(repeated)} keys written more than once, e.g. {repeated[0]!r}")
    strangers = [key for key in output_keys if key not in input_keys]
    if strangers:
        problems.append(f"{len(strangers)} outputs for keys never sent, e.g. {strangers[0]!r}")
    return problems


# -- the report --------------------------------------------------------------------------------

JSON_KEYS = (
    "scorer_eps",
    "passthrough_eps",
    "naive_eps",
    "ratio_vs_passthrough",
    "speedup_vs_naive",
    "p99_ms_idle",
    "p99_ms_at_50pct",
    "p99_ms_at_80pct",
    "api_p99_ms",
    "cpu_s_per_1000_events",
    "peak_rss_mb",
    "rescore_eps",
    "score_batch_1_ms",
    "commit",
    "date",
    "machine",
)


def json_line(summary: dict[str, Any], keys: Sequence[str] = JSON_KEYS) -> str:
    """The one machine-readable line: the agreed keys first, in their order, then any extra."""
    missing = [key for key in keys if key not in summary]
    if missing:
        raise ValueError(f"summary lacks {missing}")
    ordered = {key: summary[key] for key in keys} | summary
    return orjson.dumps(ordered).decode()


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (it reads as plain text in a terminal too)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def results_entry(*, date: str, commit: str, machine: str, tables: str, line: str) -> str:
    """One run as a section of benchmarks/RESULTS.md."""
    return f"\n## {date} · {commit}\n\nMachine: {machine}\n\n{tables}\n\n```json\n{line}\n```\n"
