"""Which of the joiner's consumer errors are a fault to bound, and for how long each lasts.

The joiner's loop retries by going on: librdkafka keeps fetching after an error and the loop
keeps calling consume(). So an error no wait fixes (a topic the joiner may not read, a group it
may not join) left it joining nothing, for ever, with one warning line (librdkafka reports a
subscribed topic's error once, when it changes). Here such errors are remembered until what shows
they are over, and the joiner's `RetryBound` (loop "outcomes") is told on every pass that one is
still there: past LOAN_SCORER_RETRY_UNREADY_AFTER_S `loan_scorer_retry_stalled{loop="outcomes"}`
turns 1 and one error line names the cause; past LOAN_SCORER_RETRY_EXIT_AFTER_S the joiner exits 1.

- A topic's authorization error lasts until a record of that topic is read or a partition of it
  is assigned (an unreadable topic gets no partition). Only that code is remembered per topic:
  librdkafka reports a topic's error once, so any other one (a leader moving) would be remembered
  after it was over and stop a healthy joiner. The price: a grant restored on a topic that stays
  idle is noticed at the next assignment, or the joiner restarts once past the exit bound.
- Any other error lasts until a record of any topic is read or `quiet_s` passes without another:
  librdkafka repeats those while they last, and an idle joiner after a broker blip must not count
  as failing. `quiet_s` stays below the unready bound, so one blip cannot reach it.
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
# Topic errors no wait fixes, remembered until the topic is read or assigned.
REMEMBERED_PER_TOPIC = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED})
# Longer than the joiner's metadata refresh (5 s) and librdkafka's reconnect backoff (up to 10 s).
QUIET_S = 30.0


def counts(code: int) -> bool:
    """Whether an error with this code is a fault the bound judges (not one waited out)."""
    return code not in WAITED_OUT


class ConsumeErrors:
    def __init__(
        self,
        bound: RetryBound,
        *,
        clock: MonotonicClock = time.monotonic,
        quiet_s: float = QUIET_S,
        unready_after_s: float | None = None,
    ) -> None:
        self._bound = bound
        self._clock = clock
        # Below the unready bound: a single transient error must be over before it is judged.
        self._quiet_s = quiet_s if unready_after_s is None else min(quiet_s, unready_after_s / 2)
        self._topics: dict[str, str] = {}  # topic -> error name, until it is read or assigned
        self._general: str | None = None  # the last error about no topic
        self._general_at = 0.0

    def error(self, topic: str | None, name: str, code: int | None = None) -> None:
        if topic and code in REMEMBERED_PER_TOPIC:
            self._topics[topic] = name
        else:
            where = f"topic {topic!r}: " if topic else ""
            self._general, self._general_at = f"{where}{name}", self._clock()

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
