"""What one committed batch adds to the metrics: decisions, scores, dead letters, duplicates."""

from __future__ import annotations

import collections

from consumer.records import BatchOutcome
from consumer.telemetry.histograms import observe_all
from consumer.telemetry.metrics import ScorerMetrics


def record_batch(metrics: ScorerMetrics, outcome: BatchOutcome, now: float) -> None:
    """Counters once per label set and batch, not per event (a label lookup and a lock each);
    `now` (epoch seconds) dates the end-to-end latency of each score (from its occurred_at) and
    its processing latency (from its input record's Kafka timestamp, when it has one)."""
    scored: collections.Counter[tuple[str, str]] = collections.Counter()
    out_of_range: collections.Counter[str] = collections.Counter()
    pds: list[float] = []
    end_to_end: list[float] = []
    processing: list[float] = []
    for fact in outcome.scored:
        scored[fact.decision, fact.model_version] += 1
        pds.append(fact.probability_of_default)
        end_to_end.append(max(0.0, now - fact.occurred_at_epoch_s))
        if fact.record_timestamp_epoch_s is not None:
            processing.append(max(0.0, now - fact.record_timestamp_epoch_s))
        if fact.out_of_range:
            out_of_range.update(fact.out_of_range)
    observe_all(metrics.probability_of_default, pds)
    observe_all(metrics.end_to_end_latency, end_to_end)
    observe_all(metrics.processing_latency, processing)
    for (decision, model_version), count in scored.items():
        metrics.events_scored.labels(decision, model_version).inc(count)
    for field, count in out_of_range.items():
        metrics.out_of_range.labels(field).inc(count)
    by_model = collections.Counter(
        (fact.model_version, fact.model_role or "champion", fact.decision)
        for facts in (outcome.scored, outcome.shadow_scored)
        for fact in facts
    )
    for labels, count in by_model.items():
        metrics.model_scores.labels(*labels).inc(count)
    for model_version in outcome.shadow_failures:
        metrics.shadow_errors.labels(model_version).inc()
    for reason in outcome.dead_letter_reasons:
        metrics.dead_letters.labels(reason).inc()
    if outcome.duplicates:
        metrics.duplicates.inc(outcome.duplicates)
