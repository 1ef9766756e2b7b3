"""How a micro-batch is cut from the stream: as soon as one event is there, with what else has
already arrived (smart batching).

`consume(n, timeout)` waits until n events or the timeout, so a fixed linger costs every event at
idle the whole linger (20 ms was a third of the latency budget). Here the batch starts the moment
its first event arrives and takes whatever is already fetched, up to the cap; under load, events
pile up while the previous batch is scored and committed, so batches grow by themselves, and the
cost of a transaction is shared by more events exactly when throughput matters. A linger above
zero still waits that long for more once the first event is in.
"""

from __future__ import annotations

from typing import Final

from confluent_kafka import Consumer, Message

# How long one iteration waits for a first event: the loop wakes this often when idle (to see a
# stop request and to prove it is alive), at no cost to latency.
IDLE_WAIT_S: Final = 0.1


def consume_batch(
    consumer: Consumer, max_events: int, linger_s: float, idle_wait_s: float = IDLE_WAIT_S
) -> list[Message]:
    """Up to `max_events` records (or consumer errors): the first one waited for up to
    `idle_wait_s`, then what is already there, or arrives within `linger_s`."""
    first = consumer.consume(num_messages=1, timeout=idle_wait_s)
    if not first or max_events == 1:
        return list(first)
    return [*first, *consumer.consume(num_messages=max_events - 1, timeout=linger_s)]
