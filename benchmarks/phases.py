"""What `make bench` measures, one kind of measurement at a time, and what each one yields.

- throughput: one process of a variant through the pre-produced events, timed by its group's
  committed offsets and checked for exactly-once delivery (a `Run`);
- latency at offered loads: the scorer, then the passthrough as the control, each behind a
  `TimetabledLoad`, and `/v1/score` behind an `ApiCaller` (a `Latency` each);
- rescore: `loan-scorer rescore` from a topic to a topic, in process.

`Sizes` says how much of each; the order of the whole run is bench.py's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from benchmarks.kafka_side import (
    CommitWatcher,
    ScoreReader,
    committed_keys,
    peak_rss_mb,
    timed_window,
)
from benchmarks.load import ApiCaller, Phase, TimetabledLoad
from benchmarks.stats import delivery_problems, percentile
from benchmarks.testbed import BenchTestbed, log
from consumer.kafka.config import KafkaConfig
from consumer.tools.demo_events import demo_events
from consumer.tools.demo_producer import publish
from tests.integration.scorer_harness import ScorerTopics

VARIANTS = ("passthrough", "naive", "scorer", "scorer+api")


@dataclass(frozen=True)
class Sizes:
    throughput_events: int = 40_000  # per variant run, the data set's 4,446 repeated
    budget_s: float = 15.0  # a run stops here even if not every event is through (naive)
    rounds: int = 3
    idle_rate: float = 5.0
    idle_s: float = 30.0
    loaded_s: float = 15.0  # at 50 % and at 80 % of the scorer's maximum
    api_rate: float = 50.0  # one application per request, on a timetable
    api_s: float = 20.0
    api_load_rate: float = 20.0  # beside the stream in scorer+api
    rescore_s: float = 10.0  # rescore about this many seconds of work, within the bounds below
    rescore_events: tuple[int, int] = (4_000, 100_000)
    profile_events: int = 2_000
    profile_repeats: int = 5
    score_one_calls: int = 500


QUICK = Sizes(
    throughput_events=1_500,
    budget_s=3.0,
    rounds=1,
    idle_s=3.0,
    loaded_s=3.0,
    api_s=3.0,
    rescore_s=1.0,
    rescore_events=(500, 2_000),
    profile_events=500,
    profile_repeats=1,
    score_one_calls=50,
)


@dataclass
class Run:
    variant: str
    events_per_s: float
    cpu_s_per_1000: float
    peak_rss_mb: float
    committed: int
    problems: list[str]
    api_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Latency:
    name: str
    rate: float
    ms: list[float]
    missing: int
    to_produce_ms: list[float] = field(default_factory=list)  # to the score's CreateTime,
    # stamped when the scorer produced it, before its transaction commits
    sender_late_ms: list[float] = field(default_factory=list)
    # The whole machine (2 cores: broker, sender, reader and scorer) while the phase ran.
    cpu_busy_pct: float | None = None

    def row(self) -> list[object]:
        def p99(values: list[float]) -> str:
            return f"{percentile(values, 99):.1f}" if values else "-"

        busy = "-" if self.cpu_busy_pct is None else f"{self.cpu_busy_pct:.0f}"
        if not self.ms:
            return [self.name, f"{self.rate:,.0f}", "-", "-", "-", "-", "-", busy, 0, self.missing]
        return [
            self.name,
            f"{self.rate:,.0f}",
            *(f"{percentile(self.ms, p):.1f}" for p in (50, 95, 99)),
            p99(self.to_produce_ms),
            p99(self.sender_late_ms),
            busy,
            len(self.ms),
            self.missing,
        ]


class Measurements:
    """Each measurement on the test bed, at `sizes`; problems go to the test bed's list."""

    def __init__(self, testbed: BenchTestbed, sizes: Sizes) -> None:
        self.testbed = testbed
        self.sizes = sizes
        self.scorer_peak_rss_mb: list[float] = []  # of every scorer process measured

    # -- 1. throughput ---------------------------------------------------------------------

    def throughput(
        self,
        variant: str,
        source: ScorerTopics,
        input_keys: set[bytes],
        bodies: list[bytes],
        env: dict[str, str] | None = None,
    ) -> Run:
        """`env`: variables added to the process's (`make bench-tracing`: OTEL_*)."""
        bed = self.testbed
        group = f"{bed.prefix}-{variant.replace('+', '-')}-{uuid.uuid4().hex[:6]}"
        topics = bed.new_topics(group.removeprefix(bed.prefix + "-"))
        topics = ScorerTopics(source.input, topics.output, topics.dlq)
        proc = bed.process(variant, topics, group, None, **(env or {}))
        proc.start()
        caller = None
        try:
            if variant.startswith("scorer"):
                proc.wait_ready(120)
            if variant == "scorer+api":
                rate = self.sizes.api_load_rate
                caller = ApiCaller(proc.port, bodies, rate, int(rate * 600)).start()
            assert proc.process is not None
            pid = proc.process.pid
            watcher = CommitWatcher(bed.bootstrap, group, source.input)
            samples = watcher.watch(pid, len(input_keys), self.sizes.budget_s)
            rss = peak_rss_mb(pid)
        finally:
            if caller is not None:
                caller.stop()
            bed.stop(proc)
        committed = watcher.committed()
        watcher.close()
        window = timed_window(samples)
        problems = delivery_problems(
            committed, committed_keys(bed.bootstrap, [topics.output, topics.dlq]), input_keys
        )
        if variant.startswith("scorer"):
            self.scorer_peak_rss_mb.append(rss)
        bed.problems += [f"{variant}: {problem}" for problem in problems]
        return Run(
            variant,
            window.events_per_s,
            window.cpu_s_per_1000,
            rss,
            committed,
            problems,
            caller.ms if caller is not None else [],
        )

    # -- 2 and 3. latency ------------------------------------------------------------------

    def latency(self, max_eps: float, bodies: list[bytes]) -> tuple[list[Latency], Latency]:
        bed, sizes = self.testbed, self.sizes
        phases = [
            Phase("idle trickle", sizes.idle_rate, sizes.idle_s),
            # Below 50 %, to find where the p99 alert (50 ms) starts to fire on this machine.
            Phase("10 % of max", 0.1 * max_eps, sizes.loaded_s),
            Phase("25 % of max", 0.25 * max_eps, sizes.loaded_s),
            Phase("50 % of max", 0.5 * max_eps, sizes.loaded_s),
            Phase("80 % of max", 0.8 * max_eps, sizes.loaded_s),
        ]
        topics = bed.new_topics("latency")
        proc = bed.process("scorer", topics, f"{bed.prefix}-latency")
        proc.start()
        try:
            proc.wait_ready(120)
            results = self.offered_load(topics, phases, warm_up_rate=max_eps / 4)
            count = int(sizes.api_rate * sizes.api_s)
            caller = ApiCaller(proc.port, bodies, sizes.api_rate, count).start()
            caller.join(timeout_s=2 * sizes.api_s + 5)  # an overloaded server: calls left unmade
            if caller.failures:
                bed.problems.append(f"/v1/score: {caller.failures} of {count} calls failed")
            api = Latency(
                "/v1/score, one application", sizes.api_rate, caller.ms, count - len(caller.ms)
            )
            assert proc.process is not None
            self.scorer_peak_rss_mb.append(peak_rss_mb(proc.process.pid))
        finally:
            bed.stop(proc)
        return results, api

    def passthrough_latency(self, max_eps: float) -> list[Latency]:
        """The control: the passthrough at the scorer's 80 % rate, on the same broker and
        client settings. Its p99 is what exactly-once Kafka alone costs on this machine, so the
        scorer's own share of a latency is the difference."""
        bed = self.testbed
        topics = bed.new_topics("latency-passthrough")
        proc = bed.process("passthrough", topics, f"{bed.prefix}-latency-passthrough")
        proc.start()
        try:
            return self.offered_load(
                topics,
                [Phase("passthrough, 80 % of max", 0.8 * max_eps, self.sizes.loaded_s)],
                warm_up_rate=max_eps / 4,
            )
        finally:
            bed.stop(proc)

    def offered_load(
        self, topics: ScorerTopics, phases: list[Phase], warm_up_rate: float
    ) -> list[Latency]:
        """Each phase's events sent on a timetable (occurred_at = due time, so a late sender
        still counts: no coordinated omission) and followed to the output; a warm-up first,
        not counted, which also waits for the consumer to have joined its group."""
        phases = [Phase("warm-up", min(20.0, warm_up_rate), 2.0), *phases]
        load = TimetabledLoad(self.testbed.bootstrap, topics.input, phases)
        reader = ScoreReader(self.testbed.bootstrap, topics.output)
        results: list[Latency] = []
        try:
            for name, rate, seconds in phases:
                sent = load.send_phase(rate, seconds, reader)
                ms = sent.latencies_ms(reader.seen)
                if name != "warm-up":
                    results.append(
                        Latency(
                            name,
                            rate,
                            ms,
                            sent.offered - len(ms),
                            sent.latencies_ms(reader.produced),
                            sent.sender_late_ms,
                            sent.cpu_busy_pct,
                        )
                    )
                    log(f"latency {name}: {results[-1].row()}")
        finally:
            reader.close()
        return results

    # -- 4. rescore ------------------------------------------------------------------------

    def rescore(self, scorer_eps: float, model: Any, policy: Any) -> float:
        from consumer.pipeline.scoring import ScoringPipeline
        from consumer.tools.rescore import DEFAULT_BATCH_SIZE, TopicSink, rescore
        from consumer.tools.rescore_sources import TopicSource

        bed = self.testbed
        low, high = self.sizes.rescore_events
        count = int(min(max(scorer_eps * self.sizes.rescore_s, low), high))
        topics = bed.new_topics("rescore")
        events = list(demo_events(count, broken_every=100))
        config: KafkaConfig = {"bootstrap.servers": bed.bootstrap}
        publish(events, topic=topics.input, config=config)
        counts = rescore(
            TopicSource(config, topics.input, DEFAULT_BATCH_SIZE),
            ScoringPipeline(model, policy, output_topic=topics.output, dlq_topic=topics.dlq),
            TopicSink(config),
        )
        keys = committed_keys(bed.bootstrap, [topics.output, topics.dlq])
        problems = delivery_problems(count, keys, {event.key for event in events})
        if counts.read != count:
            problems.append(f"rescore read {counts.read} of {count}")
        bed.problems += [f"rescore: {problem}" for problem in problems]
        log(counts.summary())
        return counts.events_per_s
