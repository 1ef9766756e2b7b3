"""Which of the joiner's consumer errors are a fault to bound, and for how long each lasts.

The joiner's loop retries by going on: librdkafka keeps fetching after an error and the loop
keeps calling consume(). So an error no wait fixes (a topic the joiner may not read, a group it
may not join) left it joining nothing, for ever, with one warning line (librdkafka reports a
subscribed topic's error once, when it changes). Here such errors are remembered until what shows
they are over, and the joiner's `RetryBound` (loop "outcomes") is told on every pass that one is
still there: past LOAN_SCORER_RETRY_UNREADY_AFTER_S `loan_scorer_retry_stalled{loop="outcomes"}`
turns 1 and one error line names the cause; past LOAN_SCORER_RETRY_EXIT_AFTER_S the joiner exits 1.

- An error about a topic lasts until a record of that topic is read or a partition of it is
  assigned (an unreadable topic gets no partition).
- An error about no topic (the group, the connection) lasts until a record of any topic is read or
  `quiet_s` passes without another: librdkafka repeats those while they last, and an idle joiner
  after a broker blip must not count as failing.
- Waited out, never counted: the end of a partition, and a topic that does not exist yet (the
  shadow and outcomes topics may appear after the joiner starts).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import KafkaError

from consumer.kafka.retry_bound import RetryBound
from consumer.records import MonotonicClock

WAITED_OUT = frozenset({KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART})
# Longer than the joiner's metadata refresh (5 s) and librdkafka's reconnect backoff (up to 10 s).
QUIET_S = 30.0


def counts(code: int) -> bool:
    """Whether an error with this code is a fault the bound judges (not one waited out)."""
    return code not in WAITED_OUT


class ConsumeErrors:
    def __init__(
        self, bound: RetryBound, *, clock: MonotonicClock = time.monotonic, quiet_s: float = QUIET_S
    ) -> None:
        self._bound = bound
        self._clock = clock
        self._quiet_s = quiet_s
        self._topics: dict[str, str] = {}  # topic -> error name, until it is read or assigned
        self._general: str | None = None  # the last error about no topic
        self._general_at = 0.0

    def error(self, topic: str | None, name: str) -> None:
        if topic:
            self._topics[topic] = name
        else:
            self._general, self._general_at = name, self._clock()

    def read(self, topics: Iterable[str]) -> None:
        """Records of these topics were read."""
        read = set(topics)
        for topic in read:
            self._topics.pop(topic, None)
        if read:
            self._general = None

    def assigned(self, topics: Iterable[str]) -> None:
        for topic in set(topics):
            self._topics.pop(topic, None)

    def cause(self) -> str | None:
        """What is failing now, or None."""
        if self._general is not None and self._clock() - self._general_at >= self._quiet_s:
            self._general = None
        parts = [f"topic {topic!r}: {name}" for topic, name in sorted(self._topics.items())]
        if self._general is not None:
            parts.append(f"consumer: {self._general}")
        return "; ".join(parts) or None

    def judge(self) -> None:
        """Once per pass of the loop: tells the bound whether an error still lasts (raises
        `RetryBoundExceeded` past the exit bound)."""
        cause = self.cause()
        if cause is None:
            self._bound.succeeded()
        else:
            self._bound.failed(cause)
