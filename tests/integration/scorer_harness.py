"""Running the real scoring loop against the real broker inside a test, and reading its output."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.runtime.assembly import assemble_loop
from consumer.runtime.assets import load_assets
from consumer.runtime.loop import ScoringLoop
from consumer.telemetry.drift import DriftMonitor
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness
from consumer.telemetry.tracing import Tracing
from tests.conftest import TopicFactory


@dataclass(frozen=True)
class ScorerTopics:
    input: str
    output: str
    dlq: str


def make_topics(create_topic: TopicFactory, partitions: int = 3) -> ScorerTopics:
    return ScorerTopics(
        input=create_topic("in", partitions),
        output=create_topic("out", partitions),
        dlq=create_topic("dlq", 1),
    )


def scorer_settings(
    bootstrap: str, topics: ScorerTopics, group_id: str, model_dir: Path, **overrides: Any
) -> Settings:
    return Settings.model_validate(
        {
            "kafka_bootstrap_servers": bootstrap,
            "input_topic": topics.input,
            "output_topic": topics.output,
            "dlq_topic": topics.dlq,
            "group_id": group_id,
            "model_dir": model_dir,
            "instance_id": f"{group_id}-member",
            "batch_max_events": 200,
            "statistics_interval_ms": 1000,
            # One state volume per member, kept across a loop restarted under the same identity.
            "state_dir": Path(tempfile.gettempdir())
            / "loan-scorer-test-state"
            / str(overrides.get("instance_id", f"{group_id}-member")),
            **overrides,
        }
    )


@dataclass
class RunningScorer:
    loop: ScoringLoop
    metrics: ScorerMetrics
    readiness: Readiness

    def counter(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@contextmanager
def running_scorer(
    settings: Settings,
    fault_injector: Callable[[str], None] | None = None,
    tracing: Tracing | None = None,
) -> Iterator[RunningScorer]:
    """The loop in a thread, stopped (gracefully) when the block ends; its errors re-raised."""
    assets = load_assets(settings)
    metrics = ScorerMetrics(CollectorRegistry())
    readiness = Readiness()
    readiness.set_model_loaded(True)
    drift = DriftMonitor.for_model(assets.model)
    loop = assemble_loop(
        settings, assets, drift, metrics, readiness, fault_injector=fault_injector, tracing=tracing
    )
    errors: list[BaseException] = []

    def target() -> None:
        try:
            loop.run()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target, name="scorer", daemon=True)
    thread.start()
    try:
        yield RunningScorer(loop, metrics, readiness)
    finally:
        loop.request_stop()
        thread.join(60)
    if thread.is_alive():
        raise AssertionError("the scoring loop did not stop within 60 s")
    if errors:
        raise errors[0]


def error_stopping_the_loop(
    settings: Settings,
    fault_injector: Callable[[str], None] | None = None,
    timeout_s: float = 90.0,
) -> BaseException | None:
    """Run the loop until it stops by itself; the error that stopped it (None if none did)."""
    assets = load_assets(settings)
    readiness = Readiness()
    readiness.set_model_loaded(True)
    drift = DriftMonitor.for_model(assets.model)
    metrics = ScorerMetrics(CollectorRegistry())
    loop = assemble_loop(settings, assets, drift, metrics, readiness, fault_injector=fault_injector)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            loop.run()
        except BaseException as error:  # handed to the test
            errors.append(error)

    thread = threading.Thread(target=target, name="scorer", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        loop.request_stop()
        thread.join(60)
        raise AssertionError(f"the loop did not stop by itself within {timeout_s} s")
    return errors[0] if errors else None
