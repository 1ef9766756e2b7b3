"""`loan-scorer produce`: publish demo events to the input topic at a chosen rate."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from confluent_kafka import KafkaError, Message, Producer

from consumer.kafka.config import KafkaConfig
from consumer.records import MonotonicClock
from consumer.tools.demo_events import DemoEvent


class Pacer:
    """Send times on a fixed schedule from the first send: the i-th (from 0) at
    start + i / rate, read off a clock.

    Waiting is handed to `idle` (the producer's poll, so delivery reports are served meanwhile)
    for the time left, again and again until the clock says the send is due: `poll(timeout)`
    returns at the first delivery report, so one call is no wait at all under load (issue 25:
    `--rate 5 --count 50` took 2.5 s instead of 10). A send that falls behind its time goes at
    once and the schedule catches up, so the average rate holds over the run.
    """

    def __init__(self, rate_per_s: float, clock: MonotonicClock = time.monotonic) -> None:
        self._interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self._clock = clock
        self._start: float | None = None

    def wait(self, index: int, idle: Callable[[float], object]) -> None:
        """Return when send number `index` is due (at once when the rate is unlimited)."""
        if not self._interval:
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + index * self._interval
        while (left := due - now) > 0:
            idle(left)
            now = self._clock()


def publish(
    events: Iterable[DemoEvent],
    *,
    topic: str,
    config: KafkaConfig,
    rate_per_s: float = 0.0,
    progress: Callable[[int], object] = lambda _sent: None,
) -> Counter[str]:
    """Publish with an idempotent producer and wait for every acknowledgement.

    Returns counts by kind ("valid" or the breakage name). Raises RuntimeError if any event could
    not be delivered, so the demo never reports events that never arrived. `progress` is called
    with 1 after each event is handed to the producer.
    """
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 10})
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            failures.append(error)

    counts: Counter[str] = Counter()
    pacer = Pacer(rate_per_s)
    for index, event in enumerate(events):
        pacer.wait(index, producer.poll)
        while True:
            try:
                producer.produce(topic, key=event.key, value=event.value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        counts[event.broken or "valid"] += 1
        progress(1)
    undelivered = producer.flush(60)
    if undelivered or failures:
        raise RuntimeError(
            f"{undelivered} events undelivered, {len(failures)} failed"
            + (f" ({failures[0].name()})" if failures else "")
        )
    return counts
