"""`make bench-tracing`: what tracing costs the scorer's throughput, measured like `make bench`.

The real `loan-scorer run` process, exactly-once, on pre-produced applications (about 1 %
broken), timed by the group's committed offsets and checked exactly-once like `make bench`'s
scorer (benchmarks/phases.py), in four variants that alternate round by round so a busy machine
weighs on each alike:

- off: no OpenTelemetry variable set, inputs without headers (what `make bench` measures);
- off, traced inputs: every input carries a `traceparent`, no SDK: each score carries a child
  `traceparent`, no span is recorded;
- on, untraced inputs: `OTEL_TRACES_EXPORTER=otlp` to a local OTLP/HTTP sink in this process
  (it answers 200 and keeps nothing): the four spans of each batch;
- on, traced inputs: the SDK and every input traced (and sampled): a `process` span per event.

Before them, in process, the loop's tracing work alone per event (benchmarks/trace_cost.py).
Prints a table and one JSON line, and appends both to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.server
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from benchmarks.phases import Measurements, Run, Sizes
from benchmarks.provenance import REPO, git_commit, machine
from benchmarks.stats import Rounds
from benchmarks.testbed import add_testbed_arguments, log, testbed_from_arguments
from benchmarks.trace_cost import main as trace_cost_main
from consumer.tools.demo_events import DemoEvent, demo_events
from consumer.tools.demo_producer import publish
from tests.integration.scorer_harness import ScorerTopics

VARIANTS = ("off", "off, traced inputs", "on, untraced inputs", "on, traced inputs")
KEYS = {  # in the JSON line
    "off": "off",
    "off, traced inputs": "off_traced",
    "on, untraced inputs": "on_untraced",
    "on, traced inputs": "on_traced",
}


class OtlpSink:
    """An OTLP/HTTP endpoint that accepts every export and counts what it was sent."""

    def __init__(self) -> None:
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                sink.bytes += len(self.rfile.read(length))
                sink.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.requests = 0
        self.bytes = 0
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _publish_traced(bootstrap: str, topic: str, events: list[DemoEvent]) -> None:
    """Each event with a `traceparent` of its own trace, sampled."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for index, event in enumerate(events):
        traceparent = f"00-{index + 1:032x}-{index + 1:016x}-01".encode()
        while True:
            try:
                producer.produce(
                    topic, key=event.key, value=event.value, headers=[("traceparent", traceparent)]
                )
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(60) != 0:
        raise RuntimeError("traced inputs not all delivered")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tracing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer events, one round")
    parser.add_argument("--events", type=int, default=20_000, help="per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    add_testbed_arguments(parser)
    args = parser.parse_args(argv)
    testbed = testbed_from_arguments(parser, args)
    testbed.workdir.mkdir(parents=True, exist_ok=True)
    events, rounds = (5_000, 1) if args.quick else (args.events, args.rounds)
    started = time.monotonic()
    log("in process: the loop's tracing work per event")
    trace_cost_main(["--batches", "10" if args.quick else "40"])
    measure = Measurements(testbed, replace(Sizes(), throughput_events=events, rounds=rounds))
    sink = OtlpSink()
    otel = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint,
        "OTEL_SERVICE_NAME": "loan-scorer-bench",
    }
    try:
        pool = list(demo_events(events, broken_every=100))
        keys = {event.key for event in pool}
        plain, traced = testbed.new_topics("plain"), testbed.new_topics("traced")
        publish(pool, topic=plain.input, config={"bootstrap.servers": testbed.bootstrap})
        _publish_traced(testbed.bootstrap, traced.input, pool)
        setups: dict[str, tuple[ScorerTopics, dict[str, str]]] = {
            "off": (plain, {}),
            "off, traced inputs": (traced, {}),
            "on, untraced inputs": (plain, otel),
            "on, traced inputs": (traced, otel),
        }
        warm_up = measure.throughput("scorer", plain, keys, [])
        log(f"warm-up: {warm_up.events_per_s:,.0f} events/s (not counted)")
        runs: dict[str, list[Run]] = {variant: [] for variant in VARIANTS}
        for round_ in range(rounds):
            order = VARIANTS if round_ % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                source, env = setups[variant]
                run = measure.throughput("scorer", source, keys, [], env)
                runs[variant].append(run)
                log(f"round {round_ + 1} {variant}: {run.events_per_s:,.0f} events/s")
    finally:
        sink.close()
        testbed.cleanup()
    rates = {v: Rounds(tuple(r.events_per_s for r in runs[v])) for v in VARIANTS}
    # The scorer's own CPU per event: what another process on a shared machine changes least.
    cpu = {v: Rounds(tuple(r.cpu_s_per_1000 for r in runs[v])) for v in VARIANTS}
    off, off_cpu = rates["off"].median, cpu["off"].median
    summary: dict[str, Any] = {
        **{f"{KEYS[v]}_eps": round(rates[v].median) for v in VARIANTS},
        **{f"{KEYS[v]}_ratio": round(rates[v].median / off, 3) for v in VARIANTS[1:]},
        **{f"{KEYS[v]}_cpu_s_per_1000": round(cpu[v].median, 4) for v in VARIANTS},
        **{f"{KEYS[v]}_cpu_ratio": round(cpu[v].median / off_cpu, 3) for v in VARIANTS[1:]},
        "otlp_export_requests": sink.requests,
        "otlp_export_bytes": sink.bytes,
        "events_per_run": events,
        "rounds": rounds,
        "exactly_once_checked": not testbed.problems,
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "bench_seconds": round(time.monotonic() - started),
    }
    rows = [
        f"| {v} | {rates[v].median:,.0f} | {', '.join(f'{r.events_per_s:,.0f}' for r in runs[v])}"
        f" | {rates[v].median / off:.2f} | {cpu[v].median:.4f}"
        f" | {cpu[v].median / off_cpu:.2f} |"
        for v in VARIANTS
    ]
    text = "\n".join(
        [
            f"### Tracing cost ({summary['date']}, commit `{summary['commit']}`)",
            "",
            f"Machine: {summary['machine']}; exactly-once, {events:,} events per run.",
            "",
            "| variant | events/s, median | rounds | vs off | CPU s / 1,000 events | vs off |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            *(f"Problems: {problem}" for problem in testbed.problems),
            "```json",
            json.dumps(summary, separators=(",", ":"), ensure_ascii=False),
            "```",
            "",
        ]
    )
    print(text)
    if str(args.results) != "-":
        with args.results.open("a", encoding="utf-8") as results:
            results.write("\n" + text)
    return 1 if testbed.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
