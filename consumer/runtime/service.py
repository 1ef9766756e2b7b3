"""`loan-scorer run`: start the HTTP side, load the model, assemble the loop, run it until a signal.

The Kafka loop owns the main thread, where signals arrive; the HTTP API runs in a thread beside it
and answers probes from the first second (not ready until the model is loaded and the broker
answers). Exit codes: 0 after a graceful stop, 1 when the loop cannot go on safely (a fatal Kafka
error, a record that cannot be written even as a truncated dead letter, a failed abort or rewind)
or a shutdown that overran its bound, 2 when the model, the policy or the API credential files
cannot be loaded.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from consumer.config.settings import Settings
from consumer.kafka.errors import StopScoringError
from consumer.kafka.topic_check import InputTopicCheck
from consumer.runtime.assembly import assemble_loop
from consumer.runtime.assets import ScoringAssets, load_assets
from consumer.runtime.heap import freeze_start_up_heap
from consumer.runtime.http import api_state_for, http_servers, safe_credential_error
from consumer.runtime.shutdown import ShutdownGuard
from consumer.telemetry.drift import DriftMonitor
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.otel_sdk import shut_down_within, tracer_provider_from_environment
from consumer.telemetry.readiness import Readiness
from consumer.telemetry.tracing import INSTRUMENTATION_NAME, Tracing
from scoring.exceptions import ScoringError

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_BAD_MODEL = 2
EXIT_BAD_CONFIG = 2


def new_metrics() -> ScorerMetrics:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return ScorerMetrics(registry)


def export_model_roles(metrics: ScorerMetrics, assets: ScoringAssets) -> None:
    """One role series per model served. The champion's is set even when it is served alone, so
    "which models serve, in which role" has an answer (not "No data") on the usual deployment."""
    metrics.model_role_info.labels(assets.model.model_version, "champion", "").set(1)
    for challenger in assets.challengers:
        share = f"{challenger.share:g}" if challenger.mode == "canary" else ""
        metrics.model_role_info.labels(challenger.model.model_version, challenger.mode, share).set(
            1
        )


def run_service(settings: Settings) -> int:
    logger.info("starting loan-scorer", extra={"settings": settings.redacted()})
    metrics = new_metrics()
    readiness = Readiness(assignment_timeout_s=settings.readiness_assignment_timeout_s)
    liveness = Liveness()
    try:
        tracer_provider = tracer_provider_from_environment(os.environ)
    except ValueError as error:  # an exporter this image lacks: say which, do not start
        logger.error("cannot configure tracing", extra={"error": str(error)})
        return EXIT_BAD_CONFIG
    tracing = Tracing(
        tracer_provider.get_tracer(INSTRUMENTATION_NAME) if tracer_provider else None,
        input_topic=settings.input_topic,
        output_topic=settings.output_topic,
    )
    try:
        api_state = api_state_for(settings, readiness, metrics, liveness)
    except (OSError, ValueError) as error:
        # Names the file and line only; the files hold credentials.
        logger.error(
            "cannot load the API credentials",
            extra={"error_type": type(error).__name__, "error": safe_credential_error(error)},
        )
        return EXIT_BAD_CONFIG
    servers = http_servers(settings, api_state)
    for server in servers:
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
        export_model_roles(metrics, assets)
        try:
            loop = assemble_loop(
                settings, assets, drift, metrics, readiness, liveness=liveness, tracing=tracing
            )
        except StopScoringError as error:  # e.g. the registry lacks the contract we write
            logger.critical("cannot start scoring", extra={"error": str(error)})
            return EXIT_FATAL
        heap = freeze_start_up_heap()
        logger.info("start-up heap frozen", extra={"frozen_objects": heap.frozen_objects})
        guard = ShutdownGuard(loop, settings.shutdown_timeout_s, EXIT_FATAL)
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
        for server in servers:
            server.stop()
        if tracer_provider is not None:
            shut_down_within(tracer_provider)  # exports the spans still queued, bounded
