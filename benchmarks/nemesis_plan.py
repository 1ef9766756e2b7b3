"""`make nemesis`'s pure half: the seeded fault schedule, the output gaps, the verdict's
arithmetic, the exit reasons and the report. No broker, no process, no clock of its own:
unit-tested in tests/benchmarks/test_nemesis.py; benchmarks/nemesis.py does the I/O.

A schedule is a list of faults, each with the moment it begins and how long it holds before it
is undone (the scorer restarted, SIGCONT, the broker started again, the extra member sent
SIGTERM). The same seed gives the same schedule, so a failing run can be run again as it was.
"""

from __future__ import annotations

import bisect
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.stats import table

FaultKind = Literal["kill9", "sigstop", "sigterm", "broker-kill9", "join-leave"]
KINDS: tuple[FaultKind, ...] = ("kill9", "sigstop", "sigterm", "broker-kill9", "join-leave")
SCORER_KINDS: frozenset[FaultKind] = frozenset({"kill9", "sigstop", "sigterm"})
BROKER = "broker"
EXTRA_PREFIX = "extra-"

# A restarted scorer takes up to a minute and a half to be ready on two loaded cores (Python's
# imports alone, docs/reliability.md): a scorer is not faulted again within this long of a
# fault on it ending, so each fault lands on a member that took part in the group.
SCORER_SETTLE_S = 60.0
# The broker took up to ~28 s to answer after a kill -9 under load; it is not killed again
# until its group and transactions had a moment to settle after that.
BROKER_SETTLE_S = 30.0
# How long a member that joined stays: long enough to be ready (see SCORER_SETTLE_S) and take
# partitions in a rebalance before it leaves again.
JOIN_HOLD_S = (90.0, 180.0)
GAP_BETWEEN_FAULTS_S = (5.0, 30.0)
RECOVERY_TARGET_S = 15.0  # output resumes within this long of the broker answering again

FAULT_LABELS: dict[FaultKind, str] = {
    "kill9": "scorer kill -9",
    "sigstop": "scorer SIGSTOP",
    "sigterm": "scorer SIGTERM",
    "broker-kill9": "broker kill -9",
    "join-leave": "member joins and leaves",
}
LABELS: dict[str, str] = {
    "kill9": "scorer kill -9, restarted",
    "sigstop": "scorer SIGSTOP past the session, SIGCONT",
    "sigterm": "scorer SIGTERM, restarted",
    "broker-kill9": "broker kill -9: its answering again to the first output",
    "broker-kill9-all": "broker kill -9: its answering again to output on every partition",
    "join": "a member joins",
    "leave": "a member leaves (SIGTERM)",
}


@dataclass(frozen=True, slots=True)
class Fault:
    at_s: float  # seconds after the faults began
    kind: FaultKind
    target: str  # a scorer's name, "broker", or the extra member's name
    hold_s: float  # until it is undone

    @property
    def end_s(self) -> float:
        return self.at_s + self.hold_s


def _hold_s(kind: FaultKind, rng: random.Random, session_s: float) -> float:
    if kind == "sigstop":
        return session_s + rng.uniform(2.0, 10.0)  # past the session: the group moves on
    if kind == "broker-kill9":
        return rng.uniform(3.0, 20.0)
    if kind == "join-leave":
        return rng.uniform(*JOIN_HOLD_S)
    return rng.uniform(1.0, 15.0)  # kill -9 or SIGTERM, then down this long before the restart


def plan(seed: int, duration_s: float, scorers: Sequence[str], session_s: float) -> list[Fault]:
    """Faults chosen at random with `seed` over `duration_s`, every one undone by its end.

    Each scorer takes one fault at a time and always one scorer is left untouched by scorer
    faults (the group never has nobody to take the partitions); the broker is down once at a
    time; one extra member at a time. Faults otherwise overlap freely: a scorer may be killed
    while the broker is down, and half the broker outages get a scorer kill -9 inside them on
    purpose, so every run of a few minutes has one."""
    if len(scorers) < 2:
        raise ValueError("the nemesis needs at least two scorers")
    rng = random.Random(seed)  # noqa: S311  # a repeatable schedule, not a secret
    free_at: dict[str, float] = dict.fromkeys([*scorers, BROKER, EXTRA_PREFIX], 0.0)
    faults: list[Fault] = []
    extras = 0
    t = rng.uniform(*GAP_BETWEEN_FAULTS_S)

    def scorer_free(at: float) -> list[str]:
        """Scorers that settled since their last fault, while one is left unimpaired."""
        busy = sum(1 for name in scorers if free_at[name] > at)
        if busy >= len(scorers) - 1:
            return []
        return [name for name in scorers if free_at[name] <= at]

    def add_scorer_fault(kind: FaultKind, at: float, target: str) -> None:
        hold = _hold_s(kind, rng, session_s)
        if at + hold > duration_s:
            return
        faults.append(Fault(round(at, 1), kind, target, round(hold, 1)))
        free_at[target] = at + hold + SCORER_SETTLE_S

    while t < duration_s:
        kind = rng.choice(KINDS)
        if kind in SCORER_KINDS:
            candidates = scorer_free(t)
            if candidates:
                add_scorer_fault(kind, t, rng.choice(candidates))
        elif kind == "broker-kill9" and free_at[BROKER] <= t:
            hold = _hold_s(kind, rng, session_s)
            if t + hold <= duration_s:
                faults.append(Fault(round(t, 1), kind, BROKER, round(hold, 1)))
                free_at[BROKER] = t + hold + BROKER_SETTLE_S
                candidates = scorer_free(t)
                if candidates and rng.random() < 0.5:  # a scorer crash inside the outage
                    add_scorer_fault("kill9", t + rng.uniform(0.0, hold), rng.choice(candidates))
        elif kind == "join-leave" and free_at[EXTRA_PREFIX] <= t:
            hold = _hold_s(kind, rng, session_s)
            if t + hold <= duration_s:
                faults.append(Fault(round(t, 1), kind, f"{EXTRA_PREFIX}{extras}", round(hold, 1)))
                extras += 1
                free_at[EXTRA_PREFIX] = t + hold + SCORER_SETTLE_S
        t += rng.uniform(*GAP_BETWEEN_FAULTS_S)
    return sorted(faults, key=lambda fault: fault.at_s)


def overlapping(faults: Sequence[Fault]) -> int:
    """How many pairs of faults were in force at the same moment."""
    return sum(
        1
        for i, first in enumerate(faults)
        for second in faults[i + 1 :]
        if first.at_s < second.end_s and second.at_s < first.end_s
    )


# -- the output gaps ---------------------------------------------------------------------------


def resume_s(
    arrivals_by_partition: Mapping[int, Sequence[float]], moment: float, *, every: bool = False
) -> float | None:
    """Seconds from `moment` to the first committed output after it on any partition (output
    resumes), or, with `every`, until every partition had one (the slowest partition's wait).
    None if there was none (with `every`: a partition had none). Arrivals are in order."""
    waits: list[float] = []
    for arrivals in arrivals_by_partition.values():
        index = bisect.bisect_right(arrivals, moment)
        if index < len(arrivals):
            waits.append(arrivals[index] - moment)
        elif every:
            return None
    if not waits:
        return None
    return max(waits) if every else min(waits)


def longest_silence(
    arrivals_by_partition: Mapping[int, Sequence[float]], start: float, end: float
) -> float | None:
    """The longest time a partition went without committed output after the fault (`start`),
    among the silences that began while it was in force (before `end`): what a consumer of the
    scores saw. A silence that began earlier (a broker outage the fault fell into) counts from
    the fault. The longest silence, not the first output after the fault: the scores committed
    just before a fault still reach the reader a moment after it, and would hide the gap. None
    if a partition had no output at all after `start`."""
    worst = 0.0
    for arrivals in arrivals_by_partition.values():
        after = bisect.bisect_right(arrivals, start)
        if after == len(arrivals):
            return None
        previous = start
        for index in range(after, len(arrivals)):
            if previous >= end:
                break
            worst = max(worst, arrivals[index] - previous)
            previous = arrivals[index]
    return worst


DURING_OUTAGE = "+broker"


def gap_label(kind: str, start: float, end: float, outages: Iterable[tuple[float, float]]) -> str:
    """The gap's label: its fault's kind, marked when a broker outage (killed, answering again)
    overlapped the fault's window, since then the outage's silence is in its gap too."""
    overlaps = any(down < end and start < up for down, up in outages)
    return kind + DURING_OUTAGE if overlaps else kind


def label_text(label: str) -> str:
    base, marked, _ = label.partition(DURING_OUTAGE)
    return LABELS[base] + (", the broker down meanwhile" if marked else "")


@dataclass(frozen=True, slots=True)
class Gap:
    label: str  # a key of LABELS
    seconds: float | None  # None: output never resumed


def longest_gaps(gaps: Iterable[Gap]) -> dict[str, tuple[int, float | None]]:
    """{label: (how many, the longest gap)}; a gap that never closed (None) is the longest."""
    by_label: dict[str, list[float | None]] = {}
    for gap in gaps:
        by_label.setdefault(gap.label, []).append(gap.seconds)
    longest: dict[str, tuple[int, float | None]] = {}
    for label, seconds in by_label.items():
        closed = [s for s in seconds if s is not None]
        worst = None if len(closed) < len(seconds) else max(closed)
        longest[label] = (len(seconds), worst)
    return longest


def recovery_target_met(gaps: Iterable[Gap], target_s: float = RECOVERY_TARGET_S) -> bool:
    """Output resumed within `target_s` of the broker answering again, after every outage."""
    return all(
        gap.seconds is not None and gap.seconds <= target_s
        for gap in gaps
        if gap.label == "broker-kill9"
    )


# -- the verdict's arithmetic ------------------------------------------------------------------


def lost_and_doubled(expected: Iterable[object], seen: Iterable[object]) -> tuple[int, int]:
    """(expected ones never seen, extra copies of the ones seen more than once)."""
    counts = Counter(seen)
    lost = sum(1 for item in set(expected) if counts[item] == 0)
    return lost, sum(n - 1 for n in counts.values() if n > 1)


# -- exit reasons ------------------------------------------------------------------------------

_ERROR_LINE = re.compile(r'"(?:level|levelname)"\s*:\s*"(?:error|critical|fatal)"', re.IGNORECASE)


def last_error_line(log: str) -> str | None:
    """The last line of a scorer's log that says why it stopped: an error-level JSON line, or a
    Python traceback's last line (the exception)."""
    lines = log.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if _ERROR_LINE.search(line):
            return line.strip()
        if line.startswith("Traceback"):
            tail = [later for later in lines[index + 1 :] if later and not later[0].isspace()]
            return tail[0].strip() if tail else line.strip()
    return None


@dataclass(frozen=True, slots=True)
class Exit:
    instance: str
    code: int
    expected: bool  # our own kill -9 or SIGTERM, or the last SIGTERM at the end
    why: str  # what we did, or the last error line


def expected_code(cause: str, code: int) -> bool:
    """Whether an exit code is the one our own action asks for: -9 for kill -9, 0 for SIGTERM;
    a member sent SIGTERM while still starting (not ready: its handler may not be installed
    yet) may also die of it (-15)."""
    return (
        (cause == "kill9" and code == -9)
        or (cause == "sigterm" and code == 0)
        or (cause == "sigterm while starting" and code in (0, -15))
    )


# -- the report --------------------------------------------------------------------------------

JSON_KEYS = (
    "verdict",
    "seed",
    "minutes",
    "scorers",
    "events",
    "faults",
    "overlapping_faults",
    "lost",
    "doubled",
    "dead_letters_lost",
    "dead_letters_doubled",
    "reader_saw_twice",
    "out_of_order_keys",
    "uncommitted_partitions",
    "longest_gap_s",
    "broker_recovery_target_s",
    "unexpected_exits",
    "commit",
    "date",
    "machine",
)


def green(summary: Mapping[str, Any]) -> bool:
    """Nothing lost, nothing doubled, every input committed, and output resumed within the
    target after every broker outage."""
    return (
        summary["lost"] == 0
        and summary["doubled"] == 0
        and summary["dead_letters_lost"] == 0
        and summary["dead_letters_doubled"] == 0
        and summary["reader_saw_twice"] == 0
        and summary["out_of_order_keys"] == 0
        and summary["uncommitted_partitions"] == 0
        and bool(summary["recovery_target_met"])
    )


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def report(
    faults: Sequence[Fault],
    gaps: Sequence[Gap],
    exits: Sequence[Exit],
    summary: Mapping[str, Any],
) -> str:
    """The run's tables: what was done, the verdict, the gaps per fault kind, the exits."""
    done = Counter(fault.kind for fault in faults)
    checks = [
        ("events sent", summary["events"]),
        ("lost (scores)", summary["lost"]),
        ("doubled (scores)", summary["doubled"]),
        ("lost (dead letters)", summary["dead_letters_lost"]),
        ("doubled (dead letters)", summary["dead_letters_doubled"]),
        ("seen twice by a read_committed reader", summary["reader_saw_twice"]),
        ("keys out of order", summary["out_of_order_keys"]),
        ("input partitions not committed to their end", summary["uncommitted_partitions"]),
    ]
    longest = longest_gaps(gaps)
    gap_rows = [
        (label_text(label), count, _seconds(worst))
        for label, (count, worst) in sorted(longest.items())
    ]
    exit_rows = [
        (e.instance, e.code, "expected" if e.expected else "UNEXPECTED", e.why[:160]) for e in exits
    ]
    faults_line = ", ".join(f"{FAULT_LABELS[kind]} x{n}" for kind, n in sorted(done.items()))
    return "\n\n".join(
        [
            f"Seed {summary['seed']}, {summary['minutes']:g} min of faults, "
            f"{summary['scorers']} scorers, {len(faults)} faults ({faults_line}); "
            f"{summary['overlapping_faults']} pairs overlapped.",
            table(("Check", "Result"), checks),
            table(("Output gap after", "Times", "Longest gap s"), gap_rows),
            f"Broker recovery target {RECOVERY_TARGET_S:g} s: "
            + ("met" if summary["recovery_target_met"] else "MISSED"),
            table(("Scorer", "Exit code", "Asked for", "Why"), exit_rows),
        ]
    )


def with_run(document: str, heading: str, entry: str) -> str:
    """`document` with `entry` added at the end of its `heading` section, the section made at
    the end of the document if it has none (other sections are left as they are)."""
    lines = document.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == heading)
    except StopIteration:
        separator = "" if document.endswith("\n") or not document else "\n"
        return f"{document}{separator}\n{heading}\n{entry}"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before = "".join(lines[:end]).rstrip("\n") + "\n"
    after = "".join(lines[end:])
    return before + entry + ("\n" + after if after else "")
