"""`loan-scorer run`: wire settings, model, policy, metrics, HTTP and the Kafka loop together.

The Kafka loop owns the main thread, where signals arrive; the HTTP API runs in a thread beside it
and answers probes from the first second (not ready until the model is loaded and the broker
answers). Exit codes: 0 after a graceful stop, 1 when the loop cannot go on safely (a fatal Kafka
error, a record that cannot be written even as a truncated dead letter, a failed abort or rewind)
or a shutdown that overran its bound, 2 when the model or policy cannot be loaded.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TypedDict

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from consumer.api.app import create_app
from consumer.api.server import ApiServer
from consumer.api.state import ApiState
from consumer.dedup import KafkaChangelogReader, SeenEvents
from consumer.drift import DriftMonitor
from consumer.health import Readiness
from consumer.input_topic_check import InputTopicCheck
from consumer.kafka_errors import StopScoringError
from consumer.liveness import Liveness
from consumer.loop import ScoringLoop
from consumer.metrics import ScorerMetrics
from consumer.pipeline import ScoreFraming, ScoringPipeline
from consumer.settings import Settings
from schemas.registry import subject_for
from schemas.wire import FramedApplicationDecoder
from scoring.artifact import LoadedModel, load_model
from scoring.exceptions import ScoringError
from scoring.policy import DEFAULT_POLICY_PATH, Policy, load_policy

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_BAD_MODEL = 2


@dataclass(frozen=True)
class ScoringAssets:
    model: LoadedModel
    policy: Policy


def load_assets(settings: Settings) -> ScoringAssets:
    """The model (verified against its card) and the decision policy (validated)."""
    if settings.model_uri:
        from registry.resolve import load_model_from

        model = load_model_from(settings.model_uri)
    else:
        model = load_model(settings.model_dir)
    policy = load_policy(settings.policy_file or DEFAULT_POLICY_PATH)
    return ScoringAssets(model=model, policy=policy)


def assemble_loop(
    settings: Settings,
    assets: ScoringAssets,
    drift: DriftMonitor,
    metrics: ScorerMetrics,
    readiness: Readiness,
    *,
    fault_injector: Callable[[str], None] | None = None,
    liveness: Liveness | None = None,
) -> ScoringLoop:
    """The pipeline and the Kafka loop around it, as the service runs them (and the tests)."""
    seen: SeenEvents | None = None
    if settings.dedup_window_s > 0:
        reader = KafkaChangelogReader(
            {
                **settings.kafka_common_config(),
                "client.id": f"loan-scorer-{settings.instance_id}-dedup",
            },
            settings.changelog_topic,
            input_topic=settings.input_topic,
            window_s=settings.dedup_window_s,
            timeout_s=settings.kafka_timeout_s,
        )
        seen = SeenEvents(reader, settings.dedup_window_s)
    pipeline = ScoringPipeline(
        assets.model,
        assets.policy,
        output_topic=settings.output_topic,
        dlq_topic=settings.dlq_topic,
        drift=drift,
        seen=seen,
        changelog_topic=settings.changelog_topic if seen is not None else None,
        **registry_wire_format(settings),
    )
    return ScoringLoop(
        settings,
        pipeline,
        metrics,
        readiness,
        drift=drift,
        fault_injector=fault_injector,
        liveness=liveness,
    )


class _WireFormat(TypedDict, total=False):
    framed: FramedApplicationDecoder
    frame_score: ScoreFraming


def registry_wire_format(settings: Settings) -> _WireFormat:
    """With a schema registry: inputs framed or plain, scores framed by the registry's
    serializer (LoanScored must be registered already). Without one: nothing, plain JSON."""
    if settings.schema_registry_url is None:
        return {}
    from consumer.schema_registry import loan_scored_framing, registry_client, schema_lookup

    client = registry_client(settings)
    return {
        "framed": FramedApplicationDecoder(
            schema_lookup(client, subject_for(settings.input_topic))
        ),
        "frame_score": loan_scored_framing(client, settings.output_topic),
    }


def new_metrics() -> ScorerMetrics:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return ScorerMetrics(registry)


class _ShutdownGuard:
    """First SIGTERM/SIGINT: stop gracefully, with a watchdog that ends the process if that
    takes longer than the bound. A second signal: stop now."""

    def __init__(self, loop: ScoringLoop, timeout_s: float) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._watchdog: threading.Timer | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._watchdog is not None:
            logger.warning("second signal; exiting now", extra={"signal": signum})
            os._exit(128 + signum)
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        self._watchdog = threading.Timer(self._timeout_s, self._overran)
        self._watchdog.daemon = True
        self._watchdog.start()
        self._loop.request_stop()

    def _overran(self) -> None:
        logger.error("graceful shutdown overran its bound", extra={"bound_s": self._timeout_s})
        os._exit(EXIT_FATAL)

    def cancel(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()


def run_service(settings: Settings) -> int:
    logger.info("starting loan-scorer", extra={"settings": settings.redacted()})
    metrics = new_metrics()
    readiness = Readiness(assignment_timeout_s=settings.readiness_assignment_timeout_s)
    liveness = Liveness()
    api_state = ApiState(readiness=readiness, metrics=metrics, liveness=liveness)
    server = ApiServer(create_app(api_state), settings.http_host, settings.http_port)
    server.start()
    try:
        try:
            assets = load_assets(settings)
            drift = DriftMonitor.for_model(assets.model)  # refuses a card without baselines
        except (ScoringError, OSError) as error:
            # The message is the diagnosis (which file, which check); a traceback adds nothing.
            logger.error("cannot load the model or policy", extra={"error": str(error)})
            return EXIT_BAD_MODEL
        api_state.assets.set(assets)  # before readiness, so "ready" implies the API can score
        readiness.set_model_loaded(True)
        metrics.model_info.labels(assets.model.model_version, assets.policy.policy_version).set(1)
        try:
            loop = assemble_loop(settings, assets, drift, metrics, readiness, liveness=liveness)
        except StopScoringError as error:  # e.g. the registry lacks the contract we write
            logger.critical("cannot start scoring", extra={"error": str(error)})
            return EXIT_FATAL
        guard = _ShutdownGuard(loop, settings.shutdown_timeout_s)
        guard.install()
        topic_check = InputTopicCheck(settings, readiness)
        topic_check.start()
        try:
            loop.run()
        except StopScoringError as error:
            # The message says what and where (e.g. the record that cannot be written); the
            # committed offsets are the truth, so a restart resumes safely.
            readiness.set_broker_reachable(False, str(error))
            logger.critical(
                "cannot go on safely; exiting for a restart", extra={"error": str(error)}
            )
            return EXIT_FATAL
        finally:
            guard.cancel()
            topic_check.stop()
        return EXIT_OK
    finally:
        server.stop()
