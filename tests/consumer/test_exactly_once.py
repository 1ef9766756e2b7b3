"""Exactly-once delivery's decisions when a transactional call does not come back in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.delivery.exactly_once import ExactlyOnceDelivery
from consumer.kafka.calls import KafkaCalls
from consumer.kafka.errors import StopScoringError
from consumer.kafka.freeze_detector import FreezeDetector
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.records import BatchOutcome
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness

FROZEN_S = 30.0  # SIGSTOP past the session (10 s) and the transaction timeout (10 s)


class FrozenClock:
    """time.monotonic, plus the seconds the process stood still (a SIGSTOP moves both)."""

    def __init__(self) -> None:
        self.frozen_for = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.frozen_for


class ProducerStoppedInCommit:
    """A producer frozen inside commit_transaction: after SIGCONT its answer (a fence, since the
    coordinator aborted the transaction meanwhile) takes a round trip, but the loop's wait for
    the call has already run out during the freeze."""

    def __init__(self, clock: FrozenClock) -> None:
        self._clock = clock
        self.answer = threading.Event()

    def begin_transaction(self) -> None:
        pass

    def send_offsets_to_transaction(self, *_args: object) -> None:
        pass

    def commit_transaction(self, _timeout: float) -> None:
        self._clock.frozen_for += FROZEN_S
        self.answer.wait(10)


class NoWriter:
    def __init__(self) -> None:
        self.topics_written: set[str] = set()  # nothing for a failed batch's diagnosis to ask
        self.last_delivery_error = None

    def write(self, *_args: object) -> None:
        pass


class AnyConsumer:
    def consumer_group_metadata(self) -> object:
        return object()


@pytest.fixture
def stopped_producer() -> Iterator[tuple[ExactlyOnceDelivery, ProducerStoppedInCommit]]:
    clock = FrozenClock()
    metrics = ScorerMetrics(CollectorRegistry())
    readiness = Readiness()
    delivery = ExactlyOnceDelivery(
        Settings(kafka_bootstrap_servers="127.0.0.1:1"),  # nothing listens; nothing is called
        metrics,
        readiness,
        PartitionTracker(),
        on_client_error=lambda _error: None,
        freezes=FreezeDetector(clock),
        calls=KafkaCalls(metrics, readiness, call_timeout_s=0.01, wedge_grace_s=0.05),
    )
    producer = ProducerStoppedInCommit(clock)
    delivery._producer = producer  # type: ignore[assignment]
    delivery._writer = NoWriter()  # type: ignore[assignment]
    delivery.attach(AnyConsumer())  # type: ignore[arg-type]
    # A stop already asked for: if the delivery wrongly replaced its producer, the new one's
    # init_transactions would return at once instead of waiting for a broker this test lacks.
    stop = threading.Event()
    stop.set()
    delivery._stop, delivery._liveness = stop, Liveness()
    try:
        yield delivery, producer
    finally:
        producer.answer.set()


def test_a_call_still_running_after_the_process_was_frozen_is_a_zombie_and_stops_the_loop(
    stopped_producer: tuple[ExactlyOnceDelivery, ProducerStoppedInCommit],
) -> None:
    """SIGSTOP inside commit_transaction, past the session and the transaction timeout: the
    other members own the partitions now. The call looks stuck only because its wait ran out
    while frozen; replacing the producer would make the zombie a member again, scoring on
    instead of exiting. It must stop (exit 1), as a fence after a freeze does."""
    delivery, _producer = stopped_producer
    with pytest.raises(StopScoringError, match="frozen"):
        delivery.publish([], BatchOutcome([]))
