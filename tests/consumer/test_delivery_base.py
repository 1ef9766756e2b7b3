"""What both delivery modes share (delivery/base.py): the producer each makes from the settings,
with its batch writer, and the refusal to publish before it has a producer and a consumer."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.delivery.at_least_once import AtLeastOnceDelivery
from consumer.delivery.exactly_once import ExactlyOnceDelivery
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.records import BatchOutcome
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness

Mode = type[AtLeastOnceDelivery] | type[ExactlyOnceDelivery]


class RecordedProducer:
    """Stands in for confluent_kafka.Producer: keeps the configuration it was made with."""

    made: ClassVar[list[RecordedProducer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        RecordedProducer.made.append(self)


def _client_error(_error: KafkaError) -> None:
    pass


def _delivery(mode: Mode, delivery: str) -> AtLeastOnceDelivery | ExactlyOnceDelivery:
    settings = Settings.model_validate(
        {"instance_id": "pod-0", "delivery": delivery, "dlq_topic": "apps.dead"}
    )
    return mode(
        settings,
        ScorerMetrics(CollectorRegistry()),
        Readiness(),
        PartitionTracker(),
        on_client_error=_client_error,
    )


@pytest.fixture(autouse=True)
def recorded_producers(monkeypatch: pytest.MonkeyPatch) -> None:
    RecordedProducer.made = []
    monkeypatch.setattr("consumer.delivery.base.Producer", RecordedProducer)


@pytest.mark.parametrize(
    ("mode", "delivery"),
    [(AtLeastOnceDelivery, "at-least-once"), (ExactlyOnceDelivery, "exactly-once")],
)
def test_publishing_before_open_and_attach_is_refused(mode: Mode, delivery: str) -> None:
    with pytest.raises(RuntimeError, match="needs open"):
        _delivery(mode, delivery).publish([], BatchOutcome([]))


def test_the_producer_is_made_from_the_settings_with_the_client_error_callback() -> None:
    delivery = _delivery(AtLeastOnceDelivery, "at-least-once")
    assert delivery.open(threading.Event(), Liveness())
    (producer,) = RecordedProducer.made
    assert producer.config["error_cb"] is _client_error
    assert producer.config["enable.idempotence"] is True
    assert "transactional.id" not in producer.config  # the at-least-once configuration
    delivery.attach(object())  # type: ignore[arg-type]
    made, _consumer, writer = delivery._parts()
    # The mode and its writer hold this one producer (ids: its declared type is the real one).
    assert id(made) == id(writer._producer) == id(producer)
    assert writer._dlq_topic == "apps.dead"


def test_a_new_producer_replaces_the_old_one_and_its_writer() -> None:
    delivery = _delivery(ExactlyOnceDelivery, "exactly-once")
    first = delivery._new_producer()
    first_writer = delivery._writer
    second = delivery._new_producer()
    assert second is not first
    assert delivery._producer is second
    assert delivery._writer is not first_writer
    assert RecordedProducer.made[1].config["transactional.id"] == "loan-scorer-pod-0"
