"""`make bench`: how fast the scorer is against what this machine allows, in one run.

On one broker, with one set of client settings and one delivery mode (exactly-once):

1. throughput: `passthrough`, `naive`, `scorer` (the real `loan-scorer run` process) and
   `scorer+api` (the same while `/v1/score` is called at a steady rate), each in its own process
   on the same pre-produced real applications (about 1 % broken, so dead letters are exercised),
   in alternating order over the rounds (after a passthrough and a naive run that warm the
   broker up and are not counted); timed by the group's committed offsets from the first
   commit to the last; then checked: every committed input is in the outputs (scores + dead
   letters) exactly once;
2. end-to-end latency at fixed offered rates (an idle trickle, 50 % and 80 % of the scorer's
   measured maximum), sent on a timetable, each event's `occurred_at` being its scheduled send
   time, to the moment a read_committed reader sees its score (free of coordinated omission);
   then the passthrough at the 80 % rate, the control: what exactly-once Kafka alone costs;
3. `/v1/score` latency for one application over real HTTP, on a timetable too;
4. `loan-scorer rescore` from a topic to a topic;
5. a per-stage profile and `score_batch` of one application.

It prints a table and, last, one JSON line, and appends both to benchmarks/RESULTS.md. The
broker is the one named by --bootstrap (LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS); `make bench` starts
one of its own. `--quick` runs the same steps with small counts, for a smoke test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.phases import QUICK, VARIANTS, Measurements, Run, Sizes
from benchmarks.provenance import REPO
from benchmarks.report import BenchResults, summary, tables
from benchmarks.stages import score_one_ms, stage_profile
from benchmarks.stats import Rounds, json_line
from benchmarks.testbed import (
    BATCH_MAX_EVENTS,
    BenchTestbed,
    add_testbed_arguments,
    finish_run,
    log,
    testbed_from_arguments,
)
from consumer.tools.demo_events import demo_events
from consumer.tools.demo_producer import publish
from schemas.encode import encode_application


def run(testbed: BenchTestbed, sizes: Sizes) -> tuple[dict[str, Any], str]:
    """Every step of the bench, in order; the summary and the tables."""
    from scoring.artifact import load_model
    from scoring.policy import DEFAULT_POLICY_PATH, load_policy
    from training.dataset import load_credit_data

    measure = Measurements(testbed, sizes)
    model = load_model(testbed.model_dir)
    policy = load_policy(DEFAULT_POLICY_PATH)
    applications = load_credit_data().applications
    bodies = [encode_application(app) for app in applications]

    source = testbed.new_topics("throughput")
    pool = list(demo_events(sizes.throughput_events, broken_every=100))
    publish(pool, topic=source.input, config={"bootstrap.servers": testbed.bootstrap})
    input_keys = {event.key for event in pool}
    log(f"{len(pool)} events (1 % broken) on {source.input}")

    # A fresh broker's JVM is still compiling its hot paths (big transactions, and one
    # transaction per event): the first runs would be slow for reasons of their own, so one
    # passthrough and one naive run warm it up and are not counted.
    for variant in ("passthrough", "naive"):
        warm_up = measure.throughput(variant, source, input_keys, bodies)
        log(f"warm-up {variant}: {warm_up.events_per_s:,.0f} events/s (not counted)")
    runs: dict[str, list[Run]] = {variant: [] for variant in VARIANTS}
    for round_ in range(sizes.rounds):
        order = VARIANTS if round_ % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            counted = measure.throughput(variant, source, input_keys, bodies)
            runs[variant].append(counted)
            log(
                f"round {round_ + 1} {variant}: {counted.events_per_s:,.0f} events/s, "
                f"{counted.committed} committed, "
                f"{'OK' if not counted.problems else counted.problems}"
            )
    rates = {v: Rounds(tuple(r.events_per_s for r in runs[v])) for v in VARIANTS}
    scorer_eps = rates["scorer"].median

    loaded, api = measure.latency(scorer_eps, bodies)
    control = measure.passthrough_latency(scorer_eps)
    rescore_eps = measure.rescore(scorer_eps, model, policy)
    log("per-stage profile")
    valid = [event.value for event in pool if event.broken is None]
    profile = stage_profile(
        valid[: sizes.profile_events], model, policy, BATCH_MAX_EVENTS, sizes.profile_repeats
    )
    passthrough_eps = rates["passthrough"].median
    profile["Kafka: consume, produce, commit (1 / passthrough rate)"] = 1e6 / passthrough_eps
    one_ms = score_one_ms(applications, model, policy, sizes.score_one_calls)

    results = BenchResults(
        sizes=sizes,
        runs=runs,
        rates=rates,
        loaded=loaded,
        control=control,
        api=api,
        rescore_eps=rescore_eps,
        profile_us=profile,
        score_one_ms=one_ms,
        scorer_peak_rss_mb=measure.scorer_peak_rss_mb,
        exactly_once_checked=not testbed.problems,
    )
    numbers = summary(results)
    return numbers, tables(numbers, results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    add_testbed_arguments(parser)
    parser.add_argument(
        "--results",
        type=Path,
        default=REPO / "benchmarks" / "RESULTS.md",
        help="append the run here ('-' for nowhere)",
    )
    args = parser.parse_args(argv)
    testbed = testbed_from_arguments(parser, args)
    started = time.monotonic()
    try:
        numbers, report = run(testbed, QUICK if args.quick else Sizes())
    finally:
        testbed.cleanup()
    numbers["bench_seconds"] = round(time.monotonic() - started)
    return finish_run(testbed, numbers, report, json_line(numbers), args.results)


if __name__ == "__main__":
    sys.exit(main())
