"""One interface for the two delivery guarantees, each owning its producer, its offsets and where
a batch's boundary is (quix-streams' `Checkpoint` is the model).

- `ExactlyOnceDelivery` (delivery/exactly_once.py): a batch's outputs and its offsets in one
  Kafka transaction.
- `AtLeastOnceDelivery` (delivery/at_least_once.py): an idempotent producer; offsets stored
  once every output of a batch is acknowledged.

The loop (consumer/runtime/loop.py) consumes, scores and calls `publish`; it knows neither, and
gets one from `delivery_mode_for` (delivery/choice.py), so this interface imports no mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, Message

from consumer.kafka.offsets import Position
from consumer.records import BatchOutcome
from consumer.telemetry.liveness import Liveness

ClientErrorCallback = Callable[[KafkaError], None]


class DeliveryMode(Protocol):
    def open(self, stop: threading.Event, liveness: Liveness) -> bool:
        """Create the producer and get it ready; False if a stop was requested first."""

    def attach(self, consumer: Consumer) -> None:
        """The consumer whose offsets this mode commits and rewinds."""

    def publish(self, messages: Sequence[Message], outcome: BatchOutcome) -> bool:
        """Write the batch's outputs and commit its offsets: True when committed; False when
        the batch was rolled back and rewound, to be read again. Raises `StopScoringError` when the
        loop cannot go on safely."""

    def last_failure(self) -> str:
        """Why the last batch was not published (topic, error), for the retry bound's reason."""

    def replaced_scores(self) -> set[tuple[int, str]]:
        """(input partition, event id) of the scores of the batch just published that were
        replaced by truncated dead letters: never published, so neither remembered as scored
        nor counted as decisions."""

    def on_revoke(self, partitions: list[Position], stopping: bool) -> None:
        """Partitions are leaving this member: hand over what it owes for them."""

    def close(self) -> None:
        """Roll back anything open and release the producer; never raises."""
