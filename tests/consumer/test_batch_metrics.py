"""What a committed batch adds to the metrics, and the series ops find on a plain scorer: the
processing latency from the Kafka timestamp beside the end-to-end one from occurred_at, the
champion's role series without challengers, and no `_created` series."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from consumer.config.settings import Settings
from consumer.pipeline.scored_event import scored_fact
from consumer.records import BatchOutcome, OutboundRecord, ScoredFact
from consumer.runtime.assets import Challenger, load_assets
from consumer.runtime.service import export_model_roles
from consumer.telemetry.batch_metrics import record_batch
from consumer.telemetry.metrics import ScorerMetrics
from consumer.tools.demo_events import demo_events
from schemas.application_v1 import LoanApplicationSubmitted
from scoring.scorer import ScoreResult

NOW = 1_800_000_000.0
DAY = 86_400.0


def _fact(occurred_ago_s: float, record_ago_s: float | None) -> ScoredFact:
    return ScoredFact(
        decision="approve",
        model_version="m1",
        probability_of_default=0.1,
        occurred_at_epoch_s=NOW - occurred_ago_s,
        record_timestamp_epoch_s=None if record_ago_s is None else NOW - record_ago_s,
    )


def _histogram(metrics: ScorerMetrics, name: str) -> tuple[float, float]:
    """(count, sum) of one unlabelled histogram."""
    registry = metrics.registry
    count = registry.get_sample_value(f"{name}_count")
    total = registry.get_sample_value(f"{name}_sum")
    assert count is not None
    assert total is not None
    return count, total


def test_a_replayed_event_is_late_end_to_end_but_not_in_processing() -> None:
    """An event that occurred a day ago and reached Kafka 0.2 s ago: the business waited a day,
    the scorer took 0.2 s; only the second is what the latency alert reads."""
    metrics = ScorerMetrics(CollectorRegistry())
    outcome = BatchOutcome(records=[], scored=[_fact(DAY, 0.2)])

    record_batch(metrics, outcome, NOW)

    assert _histogram(metrics, "loan_scorer_end_to_end_latency_seconds") == (1.0, DAY)
    count, total = _histogram(metrics, "loan_scorer_processing_latency_seconds")
    assert count == 1.0
    assert abs(total - 0.2) < 1e-6


def test_a_record_without_a_timestamp_adds_no_processing_latency() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    record_batch(metrics, BatchOutcome(records=[], scored=[_fact(1.0, None)]), NOW)

    assert _histogram(metrics, "loan_scorer_end_to_end_latency_seconds")[0] == 1.0
    assert _histogram(metrics, "loan_scorer_processing_latency_seconds") == (0.0, 0.0)


def test_scored_fact_reads_the_kafka_timestamp_in_milliseconds_and_ignores_a_missing_one() -> None:
    application = LoanApplicationSubmitted.model_validate_json(_application_json())
    result = ScoreResult(
        application_id=application.application_id,
        model_version="m1",
        policy_version="p1",
        probability_of_default=0.1,
        risk_grade="A",
        decision="approve",
        reasons=(),
        out_of_range=(),
    )
    assert scored_fact(application, result, record_timestamp_ms=1_700_000_000_250) == replace(
        scored_fact(application, result), record_timestamp_epoch_s=1_700_000_000.25
    )
    # The client's "no timestamp" is (TIMESTAMP_NOT_AVAILABLE, -1).
    assert scored_fact(application, result, record_timestamp_ms=-1).record_timestamp_epoch_s is None


def _application_json() -> bytes:
    return next(iter(demo_events(1))).value


def test_no_created_series_are_exported() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    metrics.events_consumed.inc()
    metrics.dead_letters.labels("invalid_json").inc()
    metrics.end_to_end_latency.observe(0.01)

    exposition = generate_latest(metrics.registry).decode()

    assert "loan_scorer_events_consumed_total 1.0" in exposition
    assert "_created" not in exposition


def test_the_champion_served_alone_has_its_role_series(model_dir: Path) -> None:
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    assert assets.challengers == ()
    metrics = ScorerMetrics(CollectorRegistry())

    export_model_roles(metrics, assets)

    version = assets.model.model_version
    labels = {"model_version": version, "role": "champion", "share": ""}
    assert metrics.registry.get_sample_value("loan_scorer_model_role_info", labels) == 1.0


def test_with_a_canary_both_roles_are_exported(model_dir: Path) -> None:
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    canary = replace(assets, challengers=(Challenger(assets.model, "canary", 0.1),))
    metrics = ScorerMetrics(CollectorRegistry())

    export_model_roles(metrics, canary)

    version = assets.model.model_version
    roles = {
        (sample.labels["role"], sample.labels["share"])
        for family in metrics.registry.collect()
        if family.name == "loan_scorer_model_role_info"
        for sample in family.samples
    }
    assert version
    assert roles == {("champion", ""), ("canary", "0.1")}


def test_outbound_records_are_not_counted_as_scores() -> None:
    """A batch of dead letters only observes no latency at all."""
    metrics = ScorerMetrics(CollectorRegistry())
    outcome = BatchOutcome(
        records=[OutboundRecord("dlq", b"k", b"v")], dead_letter_reasons=["invalid_json"]
    )
    record_batch(metrics, outcome, NOW)
    assert _histogram(metrics, "loan_scorer_processing_latency_seconds") == (0.0, 0.0)
    assert _histogram(metrics, "loan_scorer_end_to_end_latency_seconds") == (0.0, 0.0)
