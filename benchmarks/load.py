"""The load the benchmarks offer a scorer, always on a timetable: events sent to its input topic
phase by phase at fixed rates, and one application at a time to its `/v1/score`.

Every latency runs from an event's or a call's due time, never from when the sender got round to
it, so a sender that falls behind still counts (no coordinated omission). `make bench` and
`make bench-shadow` send the same way through `TimetabledLoad`, so their latencies compare.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import NamedTuple

import httpx

from benchmarks.kafka_side import ScoreReader, machine_cpu_ticks, send_on_timetable
from benchmarks.stats import busy_percent, latencies_ms, on_schedule, timetable
from benchmarks.testbed import BENCH_KEY
from consumer.tools.demo_events import DemoEvent, demo_events


class Phase(NamedTuple):
    """One offered load: `rate` events per second for `seconds`."""

    name: str
    rate: float
    seconds: float


class DueClock:
    """`now` for `demo_events` that hands out scheduled times, so each event's occurred_at is
    the time it is due to be sent."""

    def __init__(self) -> None:
        self.due: Iterator[float] = iter(())

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(next(self.due), UTC)


@dataclass(frozen=True)
class SentPhase:
    """One phase's events, sent and seen through to the output by the reader (or timed out)."""

    offered: int  # events sent
    due_by_key: dict[bytes, float]  # each event's due time (= its occurred_at), by key
    sender_late_ms: list[float]  # how late each send was
    cpu_busy_pct: float  # the whole machine's, from the first send to the last score seen

    def latencies_ms(self, seen_by_key: dict[bytes, float]) -> list[float]:
        """From each event's due time to `seen_by_key`'s time for it (the events it has)."""
        return latencies_ms(self.due_by_key, seen_by_key)


class TimetabledLoad:
    """Real applications (the data set's, none broken) for the given phases, sent to one input
    topic a phase at a time."""

    def __init__(self, bootstrap: str, input_topic: str, phases: Sequence[Phase]) -> None:
        self._bootstrap = bootstrap
        self._input_topic = input_topic
        self._due_clock = DueClock()
        total = sum(int(rate * seconds) for _, rate, seconds in phases)
        self._events: Iterator[DemoEvent] = demo_events(total, now=self._due_clock)

    def send_phase(self, rate: float, seconds: float, reader: ScoreReader) -> SentPhase:
        """Send the phase's events on its timetable (starting shortly, once they are made) and
        wait, up to 60 s, for `reader` to have seen a score for each."""
        count = max(1, int(rate * seconds))
        due = timetable(time.time() + 0.5 + count * 5e-5, rate, count)
        self._due_clock.due = iter(due)
        events = list(islice(self._events, count))
        cpu_before = machine_cpu_ticks()
        sender_late_ms = send_on_timetable(self._bootstrap, self._input_topic, events, due)
        keys = [event.key for event in events]
        reader.wait_for(keys, timeout_s=60)
        cpu_busy_pct = busy_percent(cpu_before, machine_cpu_ticks())
        return SentPhase(count, dict(zip(keys, due, strict=True)), sender_late_ms, cpu_busy_pct)


class ApiCaller:
    """POSTs one application to /v1/score on a timetable from a thread; latency is measured from
    each call's due time."""

    def __init__(self, port: int, bodies: Sequence[bytes], rate: float, count: int) -> None:
        self.ms: list[float] = []
        self.failures = 0
        self._client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self._bodies = bodies
        self._due = timetable(time.time() + 0.2, rate, count)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-caller", daemon=True)

    def _run(self) -> None:
        headers = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
        for index, when in on_schedule(self._due, time.time, self._stop.wait):
            if self._stop.is_set():
                break
            response = self._client.post(
                "/v1/score", content=self._bodies[index % len(self._bodies)], headers=headers
            )
            self.ms.append(1000 * (time.time() - when))
            self.failures += response.status_code != 200

    def start(self) -> ApiCaller:
        self._thread.start()
        return self

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the timetable to be done; after `timeout_s`, stop calling."""
        self._thread.join(timeout_s)
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()
