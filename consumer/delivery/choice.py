"""Which delivery mode the settings ask for: the one place that knows both implementations."""

from __future__ import annotations

from consumer.config.settings import Settings
from consumer.delivery.at_least_once import AtLeastOnceDelivery
from consumer.delivery.exactly_once import ExactlyOnceDelivery
from consumer.delivery.mode import ClientErrorCallback, DeliveryMode
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.kafka.rewind import FaultInjector
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness


def delivery_mode_for(
    settings: Settings,
    metrics: ScorerMetrics,
    readiness: Readiness,
    tracker: PartitionTracker,
    *,
    on_client_error: ClientErrorCallback,
    fault_injector: FaultInjector | None = None,
) -> DeliveryMode:
    mode = ExactlyOnceDelivery if settings.delivery == "exactly-once" else AtLeastOnceDelivery
    return mode(
        settings,
        metrics,
        readiness,
        tracker,
        on_client_error=on_client_error,
        fault_injector=fault_injector,
    )
