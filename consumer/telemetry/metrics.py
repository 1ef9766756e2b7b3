"""Prometheus metrics: the names, units and labels ops build dashboards and alerts on.

Conventions: base units (`_seconds`), `_total` counters, bounded label values only (decision,
reason class, model version, partition; never an application id). The dashboard and the alert
rules under observability/ use exactly these names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
PD_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


class ScorerMetrics:
    """All metrics of one scorer process, registered on one registry (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # prometheus-client's documented switch (process-wide): no `_created` series beside each
        # counter and histogram. Prometheus does not ingest them from the text format, so each
        # was a second series per label set that no query, panel or alert reads.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
        self.registry = registry
        self.events_consumed = Counter(
            "loan_scorer_events_consumed",
            "Events read from the input topic, valid or not.",
            registry=registry,
        )
        self.events_scored = Counter(
            "loan_scorer_events_scored",
            "Score events published, by decision and model version.",
            ["decision", "model_version"],
            registry=registry,
        )
        self.model_scores = Counter(
            "loan_scorer_model_scores",
            "Scores published by every model served, by model version, role (champion, canary, "
            "shadow) and decision; shadow scores go to the shadow topic and are never acted on.",
            ["model_version", "role", "decision"],
            registry=registry,
        )
        self.shadow_errors = Counter(
            "loan_scorer_shadow_errors",
            "Applications a shadow challenger could not score (the champion's score stands), by "
            "model version.",
            ["model_version"],
            registry=registry,
        )
        self.model_role_info = Gauge(
            "loan_scorer_model_role_info",
            "The models served and their roles, with the canary share (value is always 1); the "
            "champion's series is there even when it is served alone.",
            ["model_version", "role", "share"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "loan_scorer_dead_letters",
            "Events sent to the dead-letter topic, by reason class.",
            ["reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "loan_scorer_duplicates",
            "Upstream duplicates skipped: events whose event_id was already scored within the "
            "dedup window (no second score).",
            registry=registry,
        )
        self.state_ids = Gauge(
            "loan_scorer_state_ids",
            "Scored event ids held in the local state stores of this member's partitions "
            "(RocksDB's estimate; on disk, not in memory).",
            registry=registry,
        )
        self.state_bytes_on_disk = Gauge(
            "loan_scorer_state_bytes_on_disk",
            "Bytes of the local state stores of this member's partitions (WAL included).",
            registry=registry,
        )
        self.state_restore_records = Counter(
            "loan_scorer_state_restore_records",
            "Changelog records read into the local state stores while restoring them.",
            registry=registry,
        )
        self.out_of_range = Counter(
            "loan_scorer_out_of_range",
            "Scored events with an input field outside the model's training range, by field.",
            ["field"],
            registry=registry,
        )
        self.transactions = Counter(
            "loan_scorer_transactions",
            "Kafka transactions (or at-least-once batches) ended, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.kafka_retries = Counter(
            "loan_scorer_kafka_retries",
            "Kafka calls retried after a retriable error, and batches attempted again after an "
            "abort or a failed delivery (operation=batch), by operation.",
            ["operation"],
            registry=registry,
        )
        self.undeliverable_records = Counter(
            "loan_scorer_undeliverable_records",
            "Records the client or broker refused after bounded attempts, replaced by a "
            "truncated dead letter of their input (reason unwritable).",
            registry=registry,
        )
        self.retry_failing_seconds = Gauge(
            "loan_scorer_retry_failing_seconds",
            "How long a retry loop (batch, restore, init_transactions) has been failing without "
            "a success; 0 while it succeeds.",
            ["loop"],
            registry=registry,
        )
        self.retry_stalled = Gauge(
            "loan_scorer_retry_stalled",
            "1 while a retry loop has been failing past LOAN_SCORER_RETRY_UNREADY_AFTER_S (not "
            "ready; the process exits past LOAN_SCORER_RETRY_EXIT_AFTER_S).",
            ["loop"],
            registry=registry,
        )
        self.producer_replacements = Counter(
            "loan_scorer_producer_replacements",
            "Transactional producers replaced after a stuck call or a fence from a timed-out "
            "transaction, by reason (wedged, fenced).",
            ["reason"],
            registry=registry,
        )
        self.abandoned_producers = Gauge(
            "loan_scorer_abandoned_producers",
            "Replaced producers whose stuck librdkafka call has not returned yet (each holds a "
            "helper thread); freed once the call returns.",
            registry=registry,
        )
        self.batch_events = Histogram(
            "loan_scorer_batch_events",
            "Events per micro-batch.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.scoring_duration = Histogram(
            "loan_scorer_scoring_duration_seconds",
            "Time to decode, validate and score one micro-batch.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.end_to_end_latency = Histogram(
            "loan_scorer_end_to_end_latency_seconds",
            "From an application's occurred_at to its score being committed: what the business "
            "sees, upstream delays, replays and clock skew included.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.processing_latency = Histogram(
            "loan_scorer_processing_latency_seconds",
            "From the input record's Kafka timestamp to its score being committed: the part of "
            "the latency the scorer controls (queueing in the topic, batching, scoring, commit).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "loan_scorer_consumer_lag_messages",
            "Messages between the committed position and the end of each assigned partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.probability_of_default = Histogram(
            "loan_scorer_probability_of_default",
            "Distribution of the probability of default of scored applications.",
            buckets=PD_BUCKETS,
            registry=registry,
        )
        self.model_info = Gauge(
            "loan_scorer_model_info",
            "The model and decision policy in use (value is always 1).",
            ["model_version", "policy_version"],
            registry=registry,
        )
        self.population_stability_index = Gauge(
            "loan_scorer_population_stability_index",
            "Drift of a feature (or of the score) over the recent window against the training "
            "baseline in the model card.",
            ["feature"],
            registry=registry,
        )
        self.ready = Gauge(
            "loan_scorer_ready",
            "1 when the scorer is ready (model loaded, broker reachable, assignment healthy).",
            registry=registry,
        )
        self.http_requests = Counter(
            "loan_scorer_http_requests",
            "HTTP requests served, by route template and status code.",
            ["route", "status"],
            registry=registry,
        )
        self.http_request_duration = Histogram(
            "loan_scorer_http_request_duration_seconds",
            "HTTP request handling time, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
