"""`loan-scorer produce`: publish demo events to the input topic at a chosen rate."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from confluent_kafka import KafkaError, Message, Producer

from consumer.kafka.config import KafkaConfig
from consumer.tools.demo_events import DemoEvent


def publish(
    events: Iterable[DemoEvent], *, topic: str, config: KafkaConfig, rate_per_s: float = 0.0
) -> Counter[str]:
    """Publish with an idempotent producer and wait for every acknowledgement.

    Returns counts by kind ("valid" or the breakage name). Raises RuntimeError if any event could
    not be delivered, so the demo never reports events that never arrived.
    """
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 10})
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            failures.append(error)

    counts: Counter[str] = Counter()
    interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
    next_send = time.monotonic()
    for event in events:
        if interval:
            delay = next_send - time.monotonic()
            if delay > 0:
                producer.poll(delay)
            next_send += interval
        while True:
            try:
                producer.produce(topic, key=event.key, value=event.value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        counts[event.broken or "valid"] += 1
    undelivered = producer.flush(60)
    if undelivered or failures:
        raise RuntimeError(
            f"{undelivered} events undelivered, {len(failures)} failed"
            + (f" ({failures[0].name()})" if failures else "")
        )
    return counts
