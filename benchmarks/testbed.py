"""The test bed a benchmark stands on: one broker, the topics made on it for this run, and the
processes under test (the scorer, or a reference consumer) started and stopped on them.

`make bench` and `make soak-rss` start their processes the same way, with the same settings, so
what they measure is the same service; this is that one way. Anything wrong along the way (a
process that exited badly, an exactly-once check that failed) is noted in `problems`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.kafka_side import create_topics, delete_topics
from benchmarks.provenance import REPO
from benchmarks.stats import results_entry
from consumer.api.api_keys import new_key
from consumer.config.settings import Settings
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess

# The scorer's API is authenticated by default: one key for this run, never written but hashed.
BENCH_KEY, _BENCH_STORED = new_key("bench", frozenset({"score"}))
BENCH_KEY_LINE = _BENCH_STORED.line()

MODULES = {  # what `python -m` runs for each variant
    "passthrough": "benchmarks.variants passthrough",
    "naive": "benchmarks.variants naive",
    "scorer": "consumer run",
    "scorer+api": "consumer run",
    "baseline": "consumer run",  # another commit's scorer, from PYTHONPATH (make bench-state)
}
BATCH_MAX_EVENTS: int = Settings.model_fields["batch_max_events"].default


def service_default_env() -> dict[str, str]:
    """The service's own defaults, where the test harness (`ScorerProcess`) sets its own."""
    return {
        "LOAN_SCORER_BATCH_MAX_EVENTS": str(BATCH_MAX_EVENTS),
        "LOAN_SCORER_STATISTICS_INTERVAL_MS": str(
            Settings.model_fields["statistics_interval_ms"].default
        ),
    }


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class BenchTestbed:
    """One run on one broker: the topics it made (`cleanup` deletes them), the processes it
    started, and the problems noted along the way."""

    def __init__(self, bootstrap: str, model_dir: Path, workdir: Path) -> None:
        self.bootstrap = bootstrap
        self.model_dir = model_dir
        self.workdir = workdir
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"  # of every topic and group of this run
        self.created_topics: list[str] = []
        self.problems: list[str] = []

    def new_topics(self, name: str, partitions: int = 6) -> ScorerTopics:
        topics = ScorerTopics(
            f"{self.prefix}.{name}.in", f"{self.prefix}.{name}.out", f"{self.prefix}.{name}.dlq"
        )
        create_topics(self.bootstrap, {topics.input: partitions, topics.output: partitions})
        create_topics(self.bootstrap, {topics.dlq: 1})
        self.created_topics += [topics.input, topics.output, topics.dlq]
        return topics

    def api_keys_file(self) -> Path:
        path = self.workdir.resolve() / "api-keys"
        path.write_text(BENCH_KEY_LINE + "\n")
        return path

    def process(
        self,
        variant: str,
        topics: ScorerTopics,
        group: str,
        cwd: Path | None = None,
        **extra_env: str,
    ) -> ScorerProcess:
        """A scorer process; `cwd` runs another checkout's `consumer` (`python -m` imports from
        the working directory first), so every path it is given is absolute."""
        env = {
            "LOAN_SCORER_DELIVERY": "exactly-once",
            "LOAN_SCORER_LOG_LEVEL": "WARNING",
            **service_default_env(),
            # Authenticated calls, as in production; the rate limit above any offered API rate.
            "LOAN_SCORER_API_KEYS_FILE": str(self.api_keys_file()),
            "LOAN_SCORER_API_RATE_PER_S": "100000",
            "LOAN_SCORER_API_RATE_BURST": "100000",
            **extra_env,
        }
        proc = ScorerProcess(
            self.bootstrap,
            topics,
            group,
            self.model_dir.resolve(),
            self.workdir.resolve() / f"{group}.log",
            module=MODULES[variant],
            **env,
        )
        proc.cwd = cwd
        return proc

    def stop(self, proc: ScorerProcess) -> None:
        code, _seconds = proc.terminate(60)
        if code != 0:
            self.problems.append(f"{proc.log_file.name} exited {code}:\n{proc.logs()[-2000:]}")

    def cleanup(self) -> None:
        try:
            delete_topics(self.bootstrap, self.created_topics)
        except Exception as error:  # best effort: a bench broker is thrown away anyway
            log(f"could not delete topics: {error}")


# -- the command line of a bench on a test bed (`make bench`, `make soak-rss`) -------------------


def add_testbed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", default=os.environ.get("LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS")
    )
    parser.add_argument("--model-dir", type=Path, default=REPO / "build" / "model")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench")


def testbed_from_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> BenchTestbed:
    """The test bed the arguments name; exits with a usage error if they name no broker."""
    if not args.bootstrap:
        parser.error("no broker: give --bootstrap or LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS")
    args.workdir.mkdir(parents=True, exist_ok=True)
    return BenchTestbed(args.bootstrap, args.model_dir, args.workdir)


def finish_run(
    testbed: BenchTestbed,
    numbers: dict[str, Any],
    report: str,
    line: str,
    results: Path,
) -> int:
    """What every bench does at its end: the tables, any problem, the JSON line last (what CI
    and the notes quote), the run appended to RESULTS.md unless `results` is '-'; exit 1 on a
    problem."""
    print(report)
    for problem in testbed.problems:
        print(f"PROBLEM: {problem}")
    print(line, flush=True)
    if str(results) != "-":
        with results.open("a") as appended:
            appended.write(
                results_entry(
                    date=numbers["date"],
                    commit=numbers["commit"],
                    machine=numbers["machine"],
                    tables=report,
                    line=line,
                )
            )
    return 1 if testbed.problems else 0
