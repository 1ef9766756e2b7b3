"""`make nemesis`: a seeded, randomized fault soak of three (or more) real scorers.

Three `loan-scorer run` processes in one exactly-once group score a paced stream while, for
`--minutes` (10 by default), faults chosen at random with `--seed` (printed, so a run can be
repeated) land on them and on the broker: kill -9 then a restart, SIGSTOP past the session then
SIGCONT, SIGTERM then a restart, the broker killed with kill -9 then started again, a fourth
member joining and leaving; faults overlap (a scorer may be killed while the broker is down). A
scorer that exits when nobody asked it to is restarted, as Kubernetes would, and its exit noted.
The stream runs on for a while after the last fault; then everything is read back with
read_committed: lost, doubled (scores and dead letters), the longest output gap after each kind
of fault, and each scorer's exits. The table and a JSON line are printed and appended to the
`## make nemesis` section of docs/reliability.md. Exit status 1 unless the run was green: nothing
lost or doubled, every input committed, and output back within 15 s of the broker answering
again after every outage.

The schedule, the gaps and the verdict's arithmetic are pure, in benchmarks/nemesis_plan.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from benchmarks.nemesis_plan import (
    EXTRA_PREFIX,
    JSON_KEYS,
    RECOVERY_TARGET_S,
    Exit,
    Fault,
    Gap,
    expected_code,
    gap_label,
    green,
    last_error_line,
    longest_gaps,
    longest_silence,
    lost_and_doubled,
    overlapping,
    plan,
    recovery_target_met,
    report,
    resume_s,
    with_run,
)
from benchmarks.provenance import REPO, git_commit, machine
from benchmarks.stats import json_line
from consumer.kafka.config import SESSION_TIMEOUT_MS
from consumer.tools.demo_events import DemoEvent
from schemas.decode import decode_loan_scored
from tests.faults.fleet import Broker, Scorer, create_topics
from tests.faults.stream import Inputs, keyed_inputs, verdict
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import PacedProducer

HEADING = "## make nemesis"
OFFSET_BEGINNING = -2
# A member frozen past its session was fenced: when it thaws it exits non-zero for a restart
# ("cannot go on safely", docs/reliability.md's zombie), within this long of its SIGCONT.
ZOMBIE_EXIT_S = 60.0
TAIL_S = 90.0
GAP_WINDOW_S = 15.0  # the stream runs on after the last fault, so every gap can close
SCORER_ENV = {
    "LOAN_SCORER_DELIVERY": "exactly-once",
    "LOAN_SCORER_BATCH_MAX_EVENTS": "20",
    "LOAN_SCORER_KAFKA_TIMEOUT_S": "10",
}


def log(text: str) -> None:
    print(f"[nemesis {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class OutputWatch:
    """A read_committed reader of the output during the run: when each partition had output
    (the gaps), and every score it saw (a score seen twice is a duplicate even if it were
    gone later). It assigns itself the partitions, so it has no group to rejoin after a broker
    fault, and reconnects within half a second."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"nemesis-watch-{uuid.uuid4().hex[:8]}",  # never joined
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "reconnect.backoff.ms": 100,
                "reconnect.backoff.max.ms": 500,
            }
        )
        partitions = self._consumer.list_topics(topic, timeout=30).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        self.arrivals: dict[int, list[float]] = {p: [] for p in partitions}
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            event_id = str(decode_loan_scored(msg.value() or b"").source_event_id)
            with self._lock:
                self.arrivals[msg.partition() or 0].append(time.monotonic())
                self.seen.append(event_id)

    def distinct(self) -> int:
        with self._lock:
            return len(set(self.seen))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


class Fleet:
    """The scorers, the faults done to them, and what they said when they exited. A scorer
    that exits unasked is restarted (as Kubernetes would) and its exit noted."""

    def __init__(
        self, broker: Broker, topics: ScorerTopics, group: str, model_dir: Path, workdir: Path
    ) -> None:
        self.broker = broker
        self._topics = topics
        self._group = group
        self._model_dir = model_dir
        self._workdir = workdir
        self.members: dict[str, Scorer] = {}
        self._log_from: dict[str, int] = {}
        self._asked: set[str] = set()  # down (or leaving) because we did it
        self._keep: set[str] = set()  # restarted when they exit unasked
        self.exits: list[Exit] = []
        self._thawed_at: dict[str, float] = {}  # SIGCONT after a SIGSTOP past the session
        self.gaps_at: list[tuple[str, float, float]] = []  # (gap label, from, to)
        self.outages: list[tuple[float, float]] = []  # (broker killed, answering again)
        self.problems: list[str] = []
        self.lock = threading.Lock()

    def add(self, name: str, keep: bool) -> Scorer:
        scorer = Scorer(
            self.broker,
            self._topics,
            self._group,
            self._model_dir,
            self._workdir,
            name,
            **SCORER_ENV,
        )
        with self.lock:
            self.members[name] = scorer
            if keep:
                self._keep.add(name)
        self.start(name)
        return scorer

    def start(self, name: str) -> None:
        scorer = self.members[name]
        self._log_from[name] = scorer.log_file.stat().st_size if scorer.log_file.exists() else 0
        scorer.start()
        with self.lock:
            self._asked.discard(name)

    def why(self, name: str) -> str:
        scorer = self.members[name]
        text = scorer.log_file.read_bytes()[self._log_from.get(name, 0) :].decode(errors="replace")
        return last_error_line(text) or "no error line"

    def noted_exit(self, name: str, code: int, cause: str) -> None:
        expected = expected_code(cause, code)
        why = cause if expected else f"after {cause}: {self.why(name)}"
        with self.lock:
            self.exits.append(Exit(name, code, expected, why))

    def supervise(self) -> None:
        """Note and restart the scorers that exited unasked."""
        for name, scorer in list(self.members.items()):
            with self.lock:
                asked = name in self._asked
            if asked or scorer.process is None or scorer.process.poll() is None:
                continue
            code = scorer.process.returncode
            zombie = time.monotonic() - self._thawed_at.pop(name, -1e9) < ZOMBIE_EXIT_S
            why = f"after SIGSTOP: {self.why(name)}" if zombie else self.why(name)
            noted = Exit(name, code, zombie and code > 0, why)
            with self.lock:  # a fenced zombie exits non-zero for a restart, by design
                self.exits.append(noted)
            log(f"{name} exited {code} unasked: {why[:200]}")
            if name in self._keep:
                self.start(name)
            else:
                with self.lock:
                    self._asked.add(name)

    def thawed(self, name: str) -> None:
        with self.lock:
            self._thawed_at[name] = time.monotonic()

    def ask_down(self, name: str) -> None:
        with self.lock:
            self._asked.add(name)

    def gap_from(self, label: str, moment: float, until: float | None = None) -> None:
        """A gap to measure: after the broker answers again, from `moment` to the next output;
        for the other faults, the longest silence while it was in force, `moment` to `until`
        (and GAP_WINDOW_S after: the rebalance it causes comes a session later)."""
        with self.lock:
            self.gaps_at.append((label, moment, (until or moment) + GAP_WINDOW_S))


def run_fault(fleet: Fleet, fault: Fault, started: float) -> None:
    """One fault, from its beginning to its undoing, in a thread of its own."""
    begin = time.monotonic()
    end = started + fault.end_s
    log(f"{fault.kind} on {fault.target} for {fault.hold_s:.0f} s")
    try:
        if fault.kind == "broker-kill9":
            fleet.broker.run("kill")
            time.sleep(max(0.0, end - time.monotonic()))
            _start_broker(fleet.broker)
            answering = time.monotonic()
            fleet.gap_from("broker-kill9", answering)  # from the broker answering again
            with fleet.lock:
                fleet.outages.append((begin, answering))
        elif fault.kind == "join-leave":
            _join_and_leave(fleet, fault, end)
        else:
            _scorer_fault(fleet, fault, begin, end)
    except Exception as error:  # the run goes on; the problem is in the report
        fleet.problems.append(f"{fault}: {error!r}")
        log(f"{fault.kind} on {fault.target} failed: {error!r}")


def _start_broker(broker: Broker) -> None:
    for attempt in range(3):
        try:
            broker.run("start")
            log("broker answers again")
            return
        except Exception:
            if attempt == 2:
                raise
            time.sleep(2)


def _scorer_fault(fleet: Fleet, fault: Fault, begin: float, end: float) -> None:
    scorer = fleet.members[fault.target]
    if fault.kind == "sigstop":
        scorer.signal(signal.SIGSTOP)
        time.sleep(max(0.0, end - time.monotonic()))
        scorer.signal(signal.SIGCONT)
        fleet.gap_from("sigstop", begin, time.monotonic())
        fleet.thawed(fault.target)
        return
    fleet.ask_down(fault.target)
    assert scorer.process is not None
    if fault.kind == "kill9":
        scorer.kill9()
        code = scorer.process.returncode
    else:
        code, _took = scorer.terminate(timeout_s=60)
    fleet.noted_exit(fault.target, code, fault.kind)
    time.sleep(max(0.0, end - time.monotonic()))
    fleet.start(fault.target)
    fleet.gap_from(fault.kind, begin, time.monotonic())


def _join_and_leave(fleet: Fleet, fault: Fault, end: float) -> None:
    scorer = fleet.add(fault.target, keep=False)
    cause = "sigterm"
    try:
        scorer.wait_ready(timeout_s=max(1.0, end - time.monotonic()), startup_s=fault.hold_s)
        fleet.gap_from("join", time.monotonic())  # it takes partitions once it is ready
    except AssertionError:
        log(f"{fault.target} not ready before it was due to leave")
        cause = "sigterm while starting"
    time.sleep(max(0.0, end - time.monotonic()))
    fleet.ask_down(fault.target)
    if scorer.alive():
        leaving = time.monotonic()
        code, _took = scorer.terminate(timeout_s=60)
        fleet.gap_from("leave", leaving)
        fleet.noted_exit(fault.target, code, cause)


def stop_all(fleet: Fleet) -> None:
    """SIGTERM to every scorer still running, each once it is ready (a scorer still starting
    may die of the signal before its handler is installed), and note how each exited."""
    for member, scorer in fleet.members.items():
        if not scorer.alive():
            continue
        cause = "sigterm"
        try:
            scorer.wait_ready(timeout_s=120)
        except AssertionError:
            cause = "sigterm while starting"
        fleet.ask_down(member)
        try:
            code, _took = scorer.terminate(timeout_s=60)
            fleet.noted_exit(member, code, cause)
        except Exception as error:
            fleet.problems.append(f"{member} did not stop on SIGTERM: {error!r}")
            scorer.kill()


def save_timeline(
    path: Path, faults: Sequence[Fault], fleet: Fleet, watch: OutputWatch, started: float
) -> None:
    """The run's raw timeline, in seconds since the faults began, for reading a gap again:
    the faults, the moments gaps were measured from, each partition's output arrivals."""
    path.write_bytes(
        orjson.dumps(
            {
                "faults": [dataclasses.asdict(fault) for fault in faults],
                "gaps_at": [
                    (label, round(a - started, 2), round(b - started, 2))
                    for label, a, b in fleet.gaps_at
                ],
                "arrivals": {
                    str(p): [round(t - started, 2) for t in times]
                    for p, times in watch.arrivals.items()
                },
                "exits": [dataclasses.asdict(e) for e in fleet.exits],
                "outages": [
                    (round(a - started, 2), round(b - started, 2)) for a, b in fleet.outages
                ],
            }
        )
    )


def as_events(inputs: Inputs) -> list[DemoEvent]:
    return [DemoEvent(key, value, None) for key, value in inputs.records]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nemesis", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="of faults")
    parser.add_argument("--seed", type=int, default=None, help="random if not given (printed)")
    parser.add_argument("--scorers", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS")
    )
    parser.add_argument("--model-dir", type=Path, default=REPO / "build" / "model")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "nemesis")
    parser.add_argument(
        "--results", type=Path, default=REPO / "docs" / "reliability.md", help="'-': none"
    )
    args = parser.parse_args(argv)
    if not args.bootstrap or not os.environ.get("KAFKA_PORT"):
        parser.error(
            "needs the broker scripts/kafka-local.sh runs on KAFKA_PORT (it kills and starts "
            "it): run it with scripts/with-kafka.sh, as `make nemesis` does"
        )
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"nemesis seed {seed}", flush=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    return run(args, seed)


def run(args: argparse.Namespace, seed: int) -> int:
    duration_s = args.minutes * 60
    names = [f"scorer-{i}" for i in range(args.scorers)]
    faults = plan(seed, duration_s, names, SESSION_TIMEOUT_MS / 1000)
    for fault in faults:
        log(f"planned: {fault}")
    broker = Broker(args.bootstrap, dict(os.environ))
    name = f"nemesis.{seed}.{uuid.uuid4().hex[:6]}"
    topics = create_topics(broker, name, partitions=args.partitions)
    group = name
    inputs = keyed_inputs(int(args.rate * (duration_s + TAIL_S)))
    fleet = Fleet(broker, topics, group, args.model_dir.resolve(), args.workdir.resolve())
    watch = OutputWatch(args.bootstrap, topics.output)
    producer = PacedProducer(args.bootstrap, topics.input, as_events(inputs), args.rate)
    threads: list[threading.Thread] = []
    started = time.monotonic()
    try:
        for member in names:
            fleet.add(member, keep=True)
        for member in names:
            fleet.members[member].wait_ready(timeout_s=120)
        log(f"{len(names)} scorers ready; the stream and the faults begin")
        producer.start()
        started = time.monotonic()
        pending = list(faults)
        while pending or any(thread.is_alive() for thread in threads):
            while pending and started + pending[0].at_s <= time.monotonic():
                fault = pending.pop(0)
                thread = threading.Thread(
                    target=run_fault, args=(fleet, fault, started), daemon=True
                )
                thread.start()
                threads.append(thread)
            fleet.supervise()
            time.sleep(0.25)
        log("faults over; the stream runs on")
        while producer.sent < len(inputs.records):  # join() blocks; supervise meanwhile
            fleet.supervise()
            time.sleep(0.5)
        producer.join(120)
        wanted = len(inputs.valid_event_ids)
        deadline = time.monotonic() + 300
        while watch.distinct() < wanted and time.monotonic() < deadline:
            fleet.supervise()
            time.sleep(0.5)
        log(f"{watch.distinct()} of {wanted} scores seen; reading everything back")
        result = verdict(args.bootstrap, topics, group, inputs, None)
    finally:
        watch.close()
        stop_all(fleet)
    _lost, reader_twice = lost_and_doubled(inputs.valid_event_ids, watch.seen)
    gaps: list[Gap] = []
    for label, start, until in fleet.gaps_at:
        if label == "broker-kill9":
            gaps.append(Gap(label, resume_s(watch.arrivals, start)))
            gaps.append(Gap(f"{label}-all", resume_s(watch.arrivals, start, every=True)))
        else:
            marked = gap_label(label, start, until, fleet.outages)
            gaps.append(Gap(marked, longest_silence(watch.arrivals, start, until)))
    summary = _summary(args, seed, faults, inputs, result, reader_twice, gaps, fleet)
    text = report(faults, gaps, fleet.exits, summary)
    timeline = args.workdir / f"nemesis-{seed}.json"
    save_timeline(timeline, faults, fleet, watch, started)
    log(f"timeline in {timeline}")
    line = json_line(summary, JSON_KEYS)
    print(text)
    for problem in fleet.problems:
        print(f"PROBLEM: {problem}")
    print(line, flush=True)
    if str(args.results) != "-":
        entry = (
            f"\n### {summary['date']} · seed {seed} · {summary['commit']}\n\n"
            f"Machine: {summary['machine']}\n\n{text}\n\n```json\n{line}\n```\n"
        )
        args.results.write_text(with_run(args.results.read_text(), HEADING, entry))
    return 0 if summary["verdict"] == "green" else 1


def _summary(
    args: argparse.Namespace,
    seed: int,
    faults: Sequence[Fault],
    inputs: Inputs,
    result: Any,
    reader_twice: int,
    gaps: Sequence[Gap],
    fleet: Fleet,
) -> dict[str, Any]:
    longest = {label: worst for label, (_n, worst) in longest_gaps(gaps).items()}
    summary: dict[str, Any] = {
        "seed": seed,
        "minutes": args.minutes,
        "scorers": args.scorers,
        "events": len(inputs.records),
        "faults": len(faults),
        "overlapping_faults": overlapping(faults),
        "lost": result.lost,
        "doubled": result.duplicated,
        "dead_letters_lost": result.dead_letters_lost,
        "dead_letters_doubled": result.dead_letters_duplicated,
        "reader_saw_twice": reader_twice,
        "out_of_order_keys": len(result.out_of_order_keys),
        "uncommitted_partitions": len(result.uncommitted_partitions),
        "longest_gap_s": {k: None if v is None else round(v, 1) for k, v in longest.items()},
        "broker_recovery_target_s": RECOVERY_TARGET_S,
        "recovery_target_met": recovery_target_met(gaps),
        "unexpected_exits": sum(1 for e in fleet.exits if not e.expected),
        "extra_members": sum(1 for m in fleet.members if m.startswith(EXTRA_PREFIX)),
        "problems": len(fleet.problems),
        "commit": git_commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    summary["verdict"] = "green" if green(summary) and not fleet.problems else "red"
    return summary


if __name__ == "__main__":
    sys.exit(main())
