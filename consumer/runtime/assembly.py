"""The scorer's parts put together: the acting pipelines (champion, canaries, shadows) and the
Kafka loop around them, as the service runs them and the integration tests build them."""

from __future__ import annotations

from collections.abc import Callable

from consumer.config.settings import Settings
from consumer.kafka.changelog import KafkaChangelog
from consumer.kafka.config import admin_config
from consumer.pipeline.dedup import ScoredIds
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import BatchProcessor
from consumer.runtime.assets import ScoringAssets
from consumer.runtime.loop import ScoringLoop
from consumer.runtime.wire_format import WireFormat, registry_wire_format
from consumer.state.options import MIB, shared_options
from consumer.state.partitions import PartitionStates
from consumer.state.store import PartitionStore
from consumer.telemetry.drift import DriftMonitor
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness
from consumer.telemetry.tracing import Tracing
from schemas.score_v1 import ModelRole
from scoring.artifact import LoadedModel


def batch_processor(
    settings: Settings,
    assets: ScoringAssets,
    drift: DriftMonitor,
    seen: ScoredIds | None,
    wire: WireFormat | None = None,
) -> BatchProcessor:
    """The champion's pipeline alone, or wrapped with its challengers (pipeline/challengers.py).
    Canaries share the champion's seen-events store, prepared once per batch, and leave the
    drift window to the champion (its baseline is the champion's training data). With a schema
    registry (`wire`), the acting pipelines (champion, canaries) read and write its wire format;
    shadow scores stay plain JSON on a topic no contract is registered for."""
    wire = wire or {}
    changelog_topic = settings.changelog_topic if seen is not None else None

    def acting(
        model: LoadedModel,
        store: ScoredIds | None,
        role: ModelRole | None = None,
        drift_of: DriftMonitor | None = None,
    ) -> ScoringPipeline:
        """A pipeline that writes to the output topic: the champion, or a canary."""
        return ScoringPipeline(
            model,
            assets.policy,
            output_topic=settings.output_topic,
            dlq_topic=settings.dlq_topic,
            drift=drift_of,
            seen=store,
            changelog_topic=changelog_topic,
            model_role=role,
            **wire,
        )

    if not assets.challengers:
        return acting(assets.model, seen, drift_of=drift)
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
        acting(assets.model, shared, ModelRole.CHAMPION, drift),
        assets.policy,
        shadow_topic=settings.shadow_topic,
        canaries=[
            CanaryRoute(acting(canary.model, shared, ModelRole.CANARY), low, high)
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
    tracing: Tracing | None = None,
) -> ScoringLoop:
    """The pipeline and the Kafka loop around it, as the service runs them (and the tests)."""
    liveness = liveness or Liveness()
    state: PartitionStates | None = None
    if settings.dedup_window_s > 0:
        changelog = KafkaChangelog(
            admin_config(settings, f"loan-scorer-{settings.instance_id}-dedup"),
            settings.changelog_topic,
            input_topic=settings.input_topic,
            window_s=settings.dedup_window_s,
            timeout_s=settings.kafka_timeout_s,
        )
        options = shared_options(settings.state_cache_mb * MIB)
        state = PartitionStates(
            settings.state_dir,
            changelog_topic=settings.changelog_topic,
            window_s=settings.dedup_window_s,
            source=changelog,
            listener=RestoreReporter(readiness, metrics, liveness),
            store_factory=lambda path: PartitionStore(
                path,
                window_s=settings.dedup_window_s,
                options=options,
                # A store still locked (its last owner not gone yet) is retried by the loop,
                # which reads the batch again, rather than here, blocking it.
                open_attempts=3,
                open_backoff_s=1.0,
            ),
        )
    wire = registry_wire_format(settings)
    return ScoringLoop(
        settings,
        batch_processor(settings, assets, drift, state, wire),
        metrics,
        readiness,
        drift=drift,
        fault_injector=fault_injector,
        liveness=liveness,
        versions=(assets.model.model_version, assets.policy.policy_version),
        state=state,
        tracing=tracing,
    )


class RestoreReporter:
    """What a state restore is doing, told to readiness (503 meanwhile), the restore counter and
    liveness (a long restore is progress, not a stalled loop)."""

    def __init__(self, readiness: Readiness, metrics: ScorerMetrics, liveness: Liveness) -> None:
        self._readiness = readiness
        self._metrics = metrics
        self._liveness = liveness
        self._done = 0

    def restoring(self, partition: int, done: int, total: int) -> None:
        if done < self._done or done == 0:
            self._done = 0
        self._metrics.state_restore_records.inc(done - self._done)
        self._done = done
        self._readiness.set_restoring(
            f"restoring state: {done:,} of {total:,} records (partition {partition})"
        )
        self._liveness.beat()

    def restored(self, partition: int, records: int, seconds: float) -> None:
        del partition, records, seconds  # logged by the store
        self._done = 0
        self._readiness.set_restoring(None)
        self._liveness.beat()
