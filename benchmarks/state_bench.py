"""`make bench-state`: the scorer's RocksDB state store at 10 million ids, in one run.

On one broker, one scorer process (`loan-scorer run`, exactly-once, LOAN_SCORER_STATE_DIR in a
temporary directory): N distinct valid applications are produced to a 6-partition input topic
before it starts (its own throughput is the limit); then events/s over the first and the last
200,000 ids (from the group's committed offsets), its VmRSS at start, after 200,000 and at N, and
the state directory's size; then three restarts, each with 1,000 new events produced before the
start: SIGTERM with the local state, `kill -9` with it, and `kill -9` with the state directory
deleted (a cold restore of the whole changelog): time to /readyz 200 after the restore and to the
first new committed score, and the records restored.

Before all that, the same N events go through the scorer of `--baseline` (a commit whose scorer
still kept the scored ids in a Python dict; a git worktree of it, on the same input topic under its
own group and output topics): its events/s at 0 and at N ids and its RSS, the comparison the
targets ask for, measured in the same run.

It prints a table and, last, one JSON line, and appends both to benchmarks/RESULTS.md (the report
is state_report.py). `--ids 300000` is a quick run.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from benchmarks.kafka_side import CommitWatcher, create_topics, rss_mb
from benchmarks.provenance import REPO, git, git_commit, machine
from benchmarks.state_report import (
    RESTART_EVENTS,
    TEN_MILLION,
    EventTemplate,
    ReadyPoll,
    Restart,
    Sample,
    bytes_under,
    edge_ids,
    first_at_least,
    json_line,
    metric_sum,
    ready_after_restore,
    ready_before_restore,
    reference_bench,
    rss_mb_per_million,
    summarize,
    tables,
    window_eps,
)
from benchmarks.testbed import (
    BenchTestbed,
    add_testbed_arguments,
    finish_run,
    log,
    testbed_from_arguments,
)
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess

SAMPLE_INTERVAL_S = 0.2
POLL_INTERVAL_S = 0.1
STALL_S = 180.0  # no id committed for this long: the run is abandoned
GAUGES_S = 6.0  # loan_scorer_state_ids and _bytes_on_disk are refreshed every 5 s
CHANGELOG_SUFFIX = "-scored-ids-changelog"  # Settings.changelog_topic's default
# The last commit whose scorer kept the scored ids in a Python dict (before the state store).
BASELINE_REF = "98d5c4f"


def produce(bootstrap: str, topic: str, template: EventTemplate, indices: range) -> float:
    """Produce events `indices` with a plain idempotent producer; returns events per second."""
    errors: list[str] = []

    def failed(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            errors.append(str(error))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1_048_576,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 262_144,
            "delivery.report.only.error": True,
            "on_delivery": failed,
        }
    )
    started = time.monotonic()
    send, key, value = producer.produce, template.key, template.value
    for index in indices:
        while True:
            try:
                send(topic, value(index), key(index))
                break
            except BufferError:
                producer.poll(0.05)
        if index % 1_000_000 == 0 and index:
            producer.poll(0)
            log(f"produced {index:,}")
    remaining = producer.flush(600)
    if remaining or errors:
        raise RuntimeError(f"{remaining} events undelivered; errors: {errors[:3]}")
    return len(indices) / (time.monotonic() - started)


class NewScores:
    """Follows the output topic read_committed from its current end, noting when the first of
    the given keys is seen and how many of them have been."""

    def __init__(self, bootstrap: str, topic: str, keys: set[bytes]) -> None:
        self.keys = keys
        self.seen: set[bytes] = set()
        self.first_at: float | None = None  # time.monotonic()
        self.all_at: float | None = None
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench-state-reader",  # assign only, nothing committed
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,
            }
        )
        partitions = self._consumer.list_topics(topic, timeout=30).topics[topic].partitions
        assignment = []
        for partition in sorted(partitions):
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=30
            )
            assignment.append(TopicPartition(topic, partition, high))
        self._consumer.assign(assignment)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="new-scores", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(1000, timeout=0.05):
                key = message.key()
                if message.error() is None and isinstance(key, bytes) and key in self.keys:
                    now = time.monotonic()
                    if self.first_at is None:
                        self.first_at = now
                    self.seen.add(key)
                    if len(self.seen) == len(self.keys) and self.all_at is None:
                        self.all_at = now

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def score_all(
    proc: ScorerProcess, bootstrap: str, group: str, topic: str, ids: int
) -> tuple[list[Sample], float]:
    """Start `proc` and sample the group's committed offsets on `topic` and its RSS until `ids`
    are committed; the samples and the RSS at /readyz 200."""
    proc.start()
    proc.wait_ready(120)
    assert proc.process is not None
    pid = proc.process.pid
    rss_start = rss_mb(pid)
    watcher = CommitWatcher(bootstrap, group, topic)
    samples: list[Sample] = []
    progress_at, logged_at = time.monotonic(), 0.0
    try:
        while True:
            if proc.process.poll() is not None:
                raise RuntimeError(f"the scorer exited:\n{proc.logs()}")
            sample = Sample(time.monotonic(), watcher.committed(), rss_mb(pid))
            if samples and sample.committed > samples[-1].committed:
                progress_at = sample.at
            samples.append(sample)
            if sample.committed >= ids:
                return samples, rss_start
            if sample.at - progress_at > STALL_S:
                raise RuntimeError(f"stalled {STALL_S:.0f} s at {sample.committed:,} ids")
            if sample.at - logged_at >= 30:
                logged_at = sample.at
                log(f"{sample.committed:,} of {ids:,} ids, RSS {sample.rss_mb:.0f} MB")
            time.sleep(SAMPLE_INTERVAL_S)
    finally:
        watcher.close()


class StateBench:
    """One run: the topics, the scorer process and its state directory, and each phase."""

    def __init__(self, testbed: BenchTestbed, ids: int, state_dir: Path) -> None:
        self.testbed = testbed
        self.ids = ids
        self.edge = edge_ids(ids)
        self.state_dir = state_dir
        self.template = EventTemplate()
        self.topics: ScorerTopics = testbed.new_topics("state")
        self.group = f"{testbed.prefix}-state"
        testbed.created_topics.append(self.group + CHANGELOG_SUFFIX)
        self.proc: ScorerProcess = testbed.process(
            "scorer", self.topics, self.group, LOAN_SCORER_STATE_DIR=str(state_dir)
        )
        self.next_index = ids  # of the next new event, after the N

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.proc.port}/metrics", timeout=10).text

    def pid(self) -> int:
        assert self.proc.process is not None
        return self.proc.process.pid

    def produce_all(self) -> float:
        """Produce the N ids once, for the baseline and the store alike; events/s."""
        log(f"producing {self.ids:,} events to {self.topics.input}")
        produce_eps = produce(
            self.testbed.bootstrap, self.topics.input, self.template, range(self.ids)
        )
        log(f"produced at {produce_eps:,.0f} events/s")
        return produce_eps

    def fill(self) -> dict[str, Any]:
        """Start the scorer with the store; sample until every one of the N ids is committed."""
        log("starting the scorer with the state store")
        samples, rss_start = score_all(
            self.proc, self.testbed.bootstrap, self.group, self.topics.input, self.ids
        )
        at_edge, at_n = first_at_least(samples, self.edge), samples[-1]
        assert at_edge is not None
        exposition = self.metrics()
        return {
            "ids": self.ids,
            "edge_ids": self.edge,
            "scorer_eps_at_0": window_eps(samples, 0, self.edge),
            "scorer_eps_at_n": window_eps(samples, self.ids - self.edge, self.ids),
            "rss_mb_start": rss_start,
            "rss_mb_at_200k": at_edge.rss_mb,
            "rss_mb_at_n": at_n.rss_mb,
            "rss_mb_per_million": rss_mb_per_million(
                at_edge.rss_mb, at_n.rss_mb, self.ids, self.edge
            ),
            "state_bytes_on_disk": bytes_under(self.state_dir),
            "state_bytes_metric": metric_sum(exposition, "loan_scorer_state_bytes_on_disk"),
            "state_ids_metric": metric_sum(exposition, "loan_scorer_state_ids"),
        }

    def baseline(self, ref: str) -> dict[str, Any]:
        """The same N events through `ref`'s scorer (the in-memory store), from a worktree of
        it, on the same input topic under its own group: events/s at 0 and N ids, and RSS."""
        worktree = Path(tempfile.mkdtemp(prefix="loan-scorer-baseline-")) / "tree"
        git("worktree", "add", "--detach", str(worktree), ref)
        commit = git("-C", str(worktree), "rev-parse", "--short", "HEAD")
        topics = ScorerTopics(
            self.topics.input, self.topics.output + "-baseline", self.topics.dlq + "-baseline"
        )
        create_topics(self.testbed.bootstrap, {topics.output: 6, topics.dlq: 1})
        group = f"{self.testbed.prefix}-baseline"
        self.testbed.created_topics += [topics.output, topics.dlq, group + CHANGELOG_SUFFIX]
        # Run from the worktree: `python -m` imports its packages before the installed (editable)
        # project (PYTHONPATH alone does not: the working directory comes first).
        proc = self.testbed.process("baseline", topics, group, cwd=worktree)
        proc.unset("LOAN_SCORER_STATE_DIR")  # unknown there, and refused
        log(f"starting the baseline scorer ({ref} = {commit}, in-memory store)")
        try:
            samples, rss_start = score_all(
                proc, self.testbed.bootstrap, group, self.topics.input, self.ids
            )
        finally:
            if proc.process is not None and proc.process.poll() is None:
                self.testbed.stop(proc)
            git("worktree", "remove", "--force", str(worktree))
        at_edge, at_n = first_at_least(samples, self.edge), samples[-1]
        assert at_edge is not None
        return {
            "baseline_commit": commit,
            "baseline_eps_at_0": window_eps(samples, 0, self.edge),
            "baseline_eps_at_n": window_eps(samples, self.ids - self.edge, self.ids),
            "baseline_rss_mb_start": rss_start,
            "baseline_rss_mb_at_n": at_n.rss_mb,
            "baseline_rss_mb_per_million": rss_mb_per_million(
                at_edge.rss_mb, at_n.rss_mb, self.ids, self.edge
            ),
        }

    def restart(self, name: str, *, kill: bool, wipe: bool, timeout_s: float) -> Restart:
        """Stop the scorer (SIGTERM, or kill -9), optionally delete its state, produce the new
        events, start it again: time to /readyz 200 after its restore and to the new scores."""
        stop_s: float | None = None
        if kill:
            self.proc.kill()
        else:
            code, stop_s = self.proc.terminate(120)
            if code != 0:
                self.testbed.problems.append(f"{name}: the scorer exited {code} on SIGTERM")
        if wipe:
            shutil.rmtree(self.state_dir)
            self.state_dir.mkdir()
        indices = range(self.next_index, self.next_index + RESTART_EVENTS)
        self.next_index += RESTART_EVENTS
        reader = NewScores(
            self.testbed.bootstrap, self.topics.output, {self.template.key(i) for i in indices}
        )
        polls: list[ReadyPoll] = []
        try:
            produce(self.testbed.bootstrap, self.topics.input, self.template, indices)
            started = time.monotonic()
            self.proc.start()
            while reader.all_at is None or ready_after_restore(polls) is None:
                if time.monotonic() - started > timeout_s:
                    self.testbed.problems.append(
                        f"{name}: {len(reader.seen)} of {RESTART_EVENTS} new scores in "
                        f"{timeout_s:.0f} s"
                    )
                    break
                if self.proc.process is not None and self.proc.process.poll() is not None:
                    self.testbed.problems.append(f"{name}: the scorer exited:\n{self.proc.logs()}")
                    break
                with contextlib.suppress(httpx.HTTPError):  # not listening yet
                    answer = httpx.get(f"http://127.0.0.1:{self.proc.port}/readyz", timeout=0.5)
                    at, restoring = time.monotonic() - started, "restoring state" in answer.text
                    polls.append(ReadyPoll(at, answer.status_code, restoring))
                time.sleep(POLL_INTERVAL_S)
        finally:
            reader.close()
        restored: float | None = None
        ids_held: float | None = None
        time.sleep(GAUGES_S)
        with contextlib.suppress(httpx.HTTPError):
            exposition = self.metrics()
            restored = metric_sum(exposition, "loan_scorer_state_restore_records_total")
            ids_held = metric_sum(exposition, "loan_scorer_state_ids")
        first, last = (
            None if at is None else at - started for at in (reader.first_at, reader.all_at)
        )
        result = Restart(
            name, stop_s, ready_after_restore(polls), first, last, restored, ids_held,
            ready_before_restore(polls),
        )  # fmt: skip
        log(f"{name}: {result}")
        return result

    def close(self) -> None:
        if self.proc.process is not None and self.proc.process.poll() is None:
            self.testbed.stop(self.proc)


def run(testbed: BenchTestbed, ids: int, baseline_ref: str) -> tuple[dict[str, Any], str]:
    """Every phase, in order; the summary and the tables."""
    state_dir = Path(tempfile.mkdtemp(prefix="loan-scorer-state-bench-"))
    bench = StateBench(testbed, ids, state_dir)
    with contextlib.ExitStack() as cleanup:  # stop the scorer, then delete its state
        cleanup.callback(shutil.rmtree, state_dir, ignore_errors=True)
        cleanup.callback(bench.close)
        produce_eps = bench.produce_all()
        baseline = bench.baseline(baseline_ref) if baseline_ref else {}
        log(f"baseline: {baseline}")
        filled = {**bench.fill(), **baseline, "produce_eps": produce_eps}
        log(f"filled: {filled}")
        warm, cold_s = 300.0, 600.0 + 600.0 * ids / TEN_MILLION
        restarts = [
            bench.restart("SIGTERM, local state", kill=False, wipe=False, timeout_s=warm),
            bench.restart("kill -9, local state", kill=True, wipe=False, timeout_s=warm),
            bench.restart("kill -9, state deleted (cold)", kill=True, wipe=True, timeout_s=cold_s),
        ]
    provenance = {
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "reference": reference_bench((REPO / "benchmarks" / "RESULTS.md").read_text()),
    }
    summary = summarize(filled, restarts, provenance)
    return summary, tables(summary, restarts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.state_bench", description=__doc__)
    parser.add_argument("--ids", type=int, default=TEN_MILLION, help="distinct ids to score")
    parser.add_argument(
        "--baseline",
        default=BASELINE_REF,
        help="a commit whose scorer keeps the ids in memory, to compare with ('' for none)",
    )
    add_testbed_arguments(parser)
    parser.add_argument(
        "--results",
        type=Path,
        default=REPO / "benchmarks" / "RESULTS.md",
        help="append the run here ('-' for nowhere)",
    )
    args = parser.parse_args(argv)
    if args.ids < 2:
        parser.error("--ids must be at least 2")
    testbed = testbed_from_arguments(parser, args)
    started = time.monotonic()
    try:
        numbers, report = run(testbed, args.ids, args.baseline)
    finally:
        testbed.cleanup()
    numbers["bench_seconds"] = round(time.monotonic() - started)
    return finish_run(testbed, numbers, report, json_line(numbers), args.results)


if __name__ == "__main__":
    sys.exit(main())
