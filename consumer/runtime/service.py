"""`loan-scorer run`: wire settings, model, policy, metrics, HTTP and the Kafka loop together.

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
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, TypedDict

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from consumer.api.api_keys import KeyFileError
from consumer.api.app import create_app
from consumer.api.auth import Authenticator
from consumer.api.rate_limit import RateLimiter
from consumer.api.server import ApiServer
from consumer.api.state import ApiState
from consumer.config.settings import ChallengerMode, Settings
from consumer.kafka.changelog import KafkaChangelogReader
from consumer.kafka.errors import StopScoringError
from consumer.kafka.topic_check import InputTopicCheck
from consumer.pipeline.dedup import SeenEvents
from consumer.pipeline.scoring import ScoreFraming, ScoringPipeline
from consumer.records import BatchProcessor
from consumer.runtime.heap import freeze_start_up_heap
from consumer.runtime.loop import ScoringLoop
from consumer.telemetry.drift import DriftMonitor
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness
from schemas.registry import subject_for
from schemas.score_v1 import ModelRole
from schemas.wire import FramedApplicationDecoder
from scoring.artifact import LoadedModel, load_model
from scoring.exceptions import ScoringError
from scoring.policy import DEFAULT_POLICY_PATH, Policy, load_policy

if TYPE_CHECKING:  # the registry client is imported only when a registry is configured
    from confluent_kafka.schema_registry import SchemaRegistryClient

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_BAD_MODEL = 2
EXIT_BAD_CONFIG = 2


@dataclass(frozen=True)
class Challenger:
    model: LoadedModel
    mode: ChallengerMode
    share: float


@dataclass(frozen=True)
class ScoringAssets:
    model: LoadedModel
    policy: Policy
    challengers: tuple[Challenger, ...] = ()


def load_assets(settings: Settings) -> ScoringAssets:
    """The model (verified against its card, from a directory or a registry alias), the decision
    policy (validated) and any challengers (verified like the champion: a bad challenger stops
    the start too)."""
    if settings.model_uri:
        from registry.resolve import load_model_from

        model = load_model_from(settings.model_uri)
    else:
        model = load_model(settings.model_dir)
    policy = load_policy(settings.policy_file or DEFAULT_POLICY_PATH)
    challengers = tuple(
        Challenger(load_model(setting.model_dir), setting.mode, setting.share)
        for setting in settings.challengers
    )
    return ScoringAssets(model=model, policy=policy, challengers=challengers)


def batch_processor(
    settings: Settings,
    assets: ScoringAssets,
    drift: DriftMonitor,
    seen: SeenEvents | None,
    wire: _WireFormat | None = None,
) -> BatchProcessor:
    """The champion's pipeline alone, or wrapped with its challengers (pipeline/challengers.py).
    Canaries share the champion's seen-events store, prepared once per batch, and leave the
    drift window to the champion (its baseline is the champion's training data). With a schema
    registry (`wire`), the acting pipelines (champion, canaries) read and write its wire format;
    shadow scores stay plain JSON on a topic no contract is registered for."""
    wire = wire or {}
    changelog_topic = settings.changelog_topic if seen is not None else None
    if not assets.challengers:
        return ScoringPipeline(
            assets.model,
            assets.policy,
            output_topic=settings.output_topic,
            dlq_topic=settings.dlq_topic,
            drift=drift,
            seen=seen,
            changelog_topic=changelog_topic,
            **wire,
        )
    from consumer.pipeline.challengers import (
        CanaryRoute,
        ChampionChallengers,
        ShadowModel,
        batch_prepared,
        canary_slices,
    )

    shared = batch_prepared(seen)
    canaries = [c for c in assets.challengers if c.mode == "canary"]
    slices = canary_slices([c.share for c in canaries])
    return ChampionChallengers(
        ScoringPipeline(
            assets.model,
            assets.policy,
            output_topic=settings.output_topic,
            dlq_topic=settings.dlq_topic,
            drift=drift,
            seen=shared,
            changelog_topic=changelog_topic,
            model_role=ModelRole.CHAMPION,
            **wire,
        ),
        assets.policy,
        shadow_topic=settings.shadow_topic,
        canaries=[
            CanaryRoute(
                ScoringPipeline(
                    canary.model,
                    assets.policy,
                    output_topic=settings.output_topic,
                    dlq_topic=settings.dlq_topic,
                    seen=shared,
                    changelog_topic=changelog_topic,
                    model_role=ModelRole.CANARY,
                    **wire,
                ),
                low,
                high,
            )
            for canary, (low, high) in zip(canaries, slices, strict=True)
        ],
        shadows=[ShadowModel(c.model) for c in assets.challengers if c.mode == "shadow"],
        champion_model=assets.model,
        seen=seen,
    )


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
    wire = registry_wire_format(settings)
    return ScoringLoop(
        settings,
        batch_processor(settings, assets, drift, seen, wire),
        metrics,
        readiness,
        drift=drift,
        fault_injector=fault_injector,
        liveness=liveness,
        versions=(assets.model.model_version, assets.policy.policy_version),
    )


class _WireFormat(TypedDict, total=False):
    framed: FramedApplicationDecoder
    frame_score: ScoreFraming


def registry_wire_format(settings: Settings) -> _WireFormat:
    """With a schema registry: inputs framed or plain, scores framed by the registry's
    serializer (LoanScored must be registered already). Without one: nothing, plain JSON."""
    if settings.schema_registry_url is None:
        return {}
    from consumer.kafka.schema_registry import loan_scored_framing, registry_client

    client = registry_client(settings)
    return {
        "framed": _framed_decoder(client, settings.input_topic),
        "frame_score": loan_scored_framing(client, settings.output_topic),
    }


def framed_input_decoder(settings: Settings, topic: str) -> FramedApplicationDecoder | None:
    """Reads `topic`'s applications in the registry's wire format and as plain JSON alike, as
    the stream does; None without a registry (plain JSON only)."""
    if settings.schema_registry_url is None:
        return None
    from consumer.kafka.schema_registry import registry_client

    return _framed_decoder(registry_client(settings), topic)


def _framed_decoder(client: SchemaRegistryClient, topic: str) -> FramedApplicationDecoder:
    from consumer.kafka.schema_registry import schema_lookup

    return FramedApplicationDecoder(schema_lookup(client, subject_for(topic)))


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


def http_servers(settings: Settings, state: ApiState) -> list[ApiServer]:
    """The API on its port, and the probes with /metrics on the ops port when one is set."""
    docs = settings.api_docs_enabled
    limit = settings.http_limit_concurrency
    tls = None
    if settings.http_tls_cert_file is not None and settings.http_tls_key_file is not None:
        tls = (settings.http_tls_cert_file, settings.http_tls_key_file)
    if settings.http_ops_port is None:
        app = create_app(state, docs=docs)
        return [
            ApiServer(app, settings.http_host, settings.http_port, limit_concurrency=limit, tls=tls)
        ]
    return [
        ApiServer(
            create_app(state, part="api", docs=docs),
            settings.http_host,
            settings.http_port,
            limit_concurrency=limit,
            tls=tls,
        ),
        ApiServer(
            create_app(state, part="ops", docs=False),
            settings.http_host,
            settings.http_ops_port,
            limit_concurrency=limit,
            name="http-ops",
        ),
    ]


def api_state_for(
    settings: Settings, readiness: Readiness, metrics: ScorerMetrics, liveness: Liveness
) -> ApiState:
    """Reads the credential files now: a missing or malformed one raises (OSError, ValueError)."""
    return ApiState(
        readiness=readiness,
        metrics=metrics,
        liveness=liveness,
        auth=Authenticator.from_files(
            enabled=settings.api_auth_enabled,
            keys_file=settings.api_keys_file,
            jwks_file=settings.jwt_jwks_file,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        ),
        rate_limiter=RateLimiter(settings.api_rate_per_s, settings.api_rate_burst),
        body_timeout_s=settings.http_body_timeout_s,
    )


def run_service(settings: Settings) -> int:
    logger.info("starting loan-scorer", extra={"settings": settings.redacted()})
    metrics = new_metrics()
    readiness = Readiness(assignment_timeout_s=settings.readiness_assignment_timeout_s)
    liveness = Liveness()
    try:
        api_state = api_state_for(settings, readiness, metrics, liveness)
    except (OSError, ValueError) as error:
        # Names the file and line only; the files hold credentials.
        logger.error(
            "cannot load the API credentials",
            extra={"error_type": type(error).__name__, "error": _safe_credential_error(error)},
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
        if assets.challengers:
            metrics.model_role_info.labels(assets.model.model_version, "champion", "").set(1)
        for challenger in assets.challengers:
            share = f"{challenger.share:g}" if challenger.mode == "canary" else ""
            metrics.model_role_info.labels(
                challenger.model.model_version, challenger.mode, share
            ).set(1)
        try:
            loop = assemble_loop(settings, assets, drift, metrics, readiness, liveness=liveness)
        except StopScoringError as error:  # e.g. the registry lacks the contract we write
            logger.critical("cannot start scoring", extra={"error": str(error)})
            return EXIT_FATAL
        heap = freeze_start_up_heap()
        logger.info("start-up heap frozen", extra={"frozen_objects": heap.frozen_objects})
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
        for server in servers:
            server.stop()


def _safe_credential_error(error: Exception) -> str:
    if isinstance(error, KeyFileError | OSError):
        return str(error)  # a line number or a path, never content
    return "the file does not parse"
