"""`make bench-shadow`: what one shadow challenger costs the champion, measured like `make bench`.

Two measurements, each for the champion alone and with one shadow challenger:

- in process, microseconds per event of the batch processor the service runs (the champion's
  `ScoringPipeline`, or `ChampionChallengers` around it), on the data set's events in batches of
  the scorer's size;
- end to end on a real broker, from `occurred_at` to the moment a read_committed reader sees the
  champion's score, at the idle trickle of `make bench` and at a fixed loaded rate, for the real
  `loan-scorer run` process; the two variants alternate, round by round, so a busy machine
  weighs on both alike. Senders are on a timetable (no coordinated omission), as in bench.py.

Prints a table and one JSON line, and appends both to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.kafka_side import ScoreReader, create_topics, delete_topics
from benchmarks.load import Phase, TimetabledLoad
from benchmarks.provenance import REPO, git_commit, machine
from benchmarks.stats import percentile
from benchmarks.testbed import BATCH_MAX_EVENTS, service_default_env
from consumer.config.settings import Settings
from consumer.runtime.assembly import batch_processor
from consumer.runtime.assets import Challenger, ScoringAssets, load_assets
from consumer.tools.demo_events import demo_events
from consumer.tools.rescore_sources import DatasetRecord
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess

VARIANTS = ("champion", "champion+shadow")


def _challengers(challenger_dir: Path) -> str:
    return json.dumps([{"model_dir": str(challenger_dir), "mode": "shadow"}])


def in_process_us(
    model_dir: Path, challenger_dir: Path, events: int, repeats: int
) -> dict[str, float]:
    """Microseconds per event of each variant's batch processor, batches of the default size."""
    raw = [event.value for event in demo_events(events)]
    size = BATCH_MAX_EVENTS
    batches = [
        [DatasetRecord(value, f"k{i}", i) for i, value in enumerate(raw[s : s + size], start=s)]
        for s in range(0, len(raw), size)
    ]
    champion = load_assets(Settings.model_validate({"model_dir": model_dir}))
    with_shadow = ScoringAssets(
        champion.model,
        champion.policy,
        (
            Challenger(
                load_assets(Settings.model_validate({"model_dir": challenger_dir})).model,
                "shadow",
                0.0,
            ),
        ),
    )
    results: dict[str, float] = {}
    for name, assets in (("champion", champion), ("champion+shadow", with_shadow)):
        settings = Settings.model_validate({"model_dir": model_dir, "dedup_window_s": 0})
        processor = batch_processor(settings, assets, drift=_no_drift(assets), seen=None)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            for batch in batches:
                processor(batch)
            timings.append(time.perf_counter() - started)
        results[name] = 1e6 * statistics.median(timings) / len(raw)
    return results


def _no_drift(assets: ScoringAssets) -> Any:
    from consumer.telemetry.drift import DriftMonitor

    return DriftMonitor.for_model(assets.model)


def latency_round(
    bootstrap: str,
    variant: str,
    model_dir: Path,
    challenger_dir: Path,
    workdir: Path,
    phases: Sequence[Phase],
) -> dict[str, list[float]]:
    """One scorer process of the variant; latencies (ms) of each phase's champion scores."""
    prefix = f"shadow-bench-{uuid.uuid4().hex[:8]}"
    topics = ScorerTopics(f"{prefix}.in", f"{prefix}.out", f"{prefix}.dlq")
    shadow_topic = f"{prefix}.shadow"
    create_topics(bootstrap, {topics.input: 6, topics.output: 6, shadow_topic: 6, topics.dlq: 1})
    env = {
        "LOAN_SCORER_LOG_LEVEL": "WARNING",
        **service_default_env(),
        "LOAN_SCORER_SHADOW_TOPIC": shadow_topic,
    }
    if variant == "champion+shadow":
        env["LOAN_SCORER_CHALLENGERS"] = _challengers(challenger_dir)
    proc = ScorerProcess(
        bootstrap,
        topics,
        prefix,
        model_dir,
        workdir / f"{prefix}.log",
        module="consumer run",
        **env,
    )
    load = TimetabledLoad(bootstrap, topics.input, phases)
    results: dict[str, list[float]] = {}
    proc.start()
    reader: ScoreReader | None = None
    try:
        proc.wait_ready(120)
        # Only now: a reader assigned before the new topic's metadata settles can miss partitions.
        reader = ScoreReader(bootstrap, topics.output)
        for name, rate, seconds in phases:
            sent = load.send_phase(rate, seconds, reader)
            results[name] = sent.latencies_ms(reader.seen)
            results[name + " missing"] = [float(sent.offered - len(results[name]))]
    finally:
        if reader is not None:
            reader.close()
        proc.terminate(60)
        delete_topics(bootstrap, [topics.input, topics.output, topics.dlq, shadow_topic])
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shadow", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short phases, one round")
    parser.add_argument("--model-dir", type=Path, default=REPO / "build" / "model")
    parser.add_argument("--challenger-dir", type=Path, default=REPO / "build" / "challenger")
    parser.add_argument("--loaded-rate", type=float, default=1_000.0, help="events/s")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    bootstrap = Settings().kafka_bootstrap_servers
    workdir = REPO / "build" / "bench-shadow"
    workdir.mkdir(parents=True, exist_ok=True)
    rounds = 1 if args.quick else 3
    seconds = 3.0 if args.quick else 20.0
    phases = [
        Phase("warm-up", 20.0, 2.0),
        Phase("idle trickle", 5.0, seconds),
        Phase("loaded", args.loaded_rate, seconds / 2),
    ]
    started = time.monotonic()
    per_event = in_process_us(args.model_dir, args.challenger_dir, 2_000, 1 if args.quick else 5)
    latency: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    for round_index in range(rounds):
        order = VARIANTS if round_index % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            print(f"[shadow bench] round {round_index + 1}: {variant}", file=sys.stderr, flush=True)
            measured = latency_round(
                bootstrap, variant, args.model_dir, args.challenger_dir, workdir, phases
            )
            for phase, values in measured.items():
                latency[variant].setdefault(phase, []).extend(values)
    rows = []
    summary: dict[str, Any] = {
        "pipeline_us_per_event": {k: round(v, 1) for k, v in per_event.items()},
    }
    for variant in VARIANTS:
        for phase in ("idle trickle", "loaded"):
            values = latency[variant][phase]
            p50, p99 = percentile(values, 50), percentile(values, 99)
            missing = int(sum(latency[variant][phase + " missing"]))
            rows.append(
                f"| {variant} | {phase} | {len(values)} | {missing} | {p50:.1f} | {p99:.1f} |"
            )
            key = "idle" if phase == "idle trickle" else "loaded"
            summary[f"{variant}_{key}_p50_ms"] = round(p50, 1)
            summary[f"{variant}_{key}_p99_ms"] = round(p99, 1)
    summary.update(
        {
            "loaded_rate": args.loaded_rate,
            "rounds": rounds,
            "commit": git_commit(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "bench_seconds": round(time.monotonic() - started),
        }
    )
    text = "\n".join(
        [
            f"### Shadow challenger cost ({summary['date']}, commit `{summary['commit']}`)",
            "",
            f"| processor | µs / event (batches of {BATCH_MAX_EVENTS:,}) |",
            "|---|---|",
            *(f"| {k} | {v:.1f} |" for k, v in per_event.items()),
            "",
            "| variant | offered load | samples | missing | p50 ms | p99 ms |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "```json",
            json.dumps(summary, separators=(",", ":")),
            "```",
            "",
        ]
    )
    print(text)
    with args.results.open("a", encoding="utf-8") as results:
        results.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
