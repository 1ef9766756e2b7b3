"""The names the delivery artefacts build on: the scorer's environment and its metrics.

The Dockerfile, docker-compose.yml, the Helm chart, the dashboard and the alert rules may use only
these; test_contract.py also checks that the scorer's own metrics module defines every metric here.
"""

from __future__ import annotations

from typing import Literal

MetricType = Literal["counter", "gauge", "histogram"]

#: Environment variables the scorer's settings read (LOAN_SCORER_KAFKA_SASL_* come from a Secret).
ENVIRONMENT = frozenset(
    {
        "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS",
        "LOAN_SCORER_INPUT_TOPIC",
        "LOAN_SCORER_OUTPUT_TOPIC",
        "LOAN_SCORER_DLQ_TOPIC",
        "LOAN_SCORER_GROUP_ID",
        "LOAN_SCORER_HTTP_PORT",
        "LOAN_SCORER_MODEL_DIR",
        "LOAN_SCORER_DELIVERY",
        "LOAN_SCORER_SHUTDOWN_TIMEOUT_S",
        "LOAN_SCORER_LOG_LEVEL",
        "LOAN_SCORER_KAFKA_EXTRA_CONFIG",
        "LOAN_SCORER_KAFKA_SASL_USERNAME",
        "LOAN_SCORER_KAFKA_SASL_PASSWORD",
        "LOAN_SCORER_POLICY_FILE",
        "LOAN_SCORER_INSTANCE_ID",
        "LOAN_SCORER_AUTO_OFFSET_RESET",
        "LOAN_SCORER_SCHEMA_REGISTRY_URL",
        "LOAN_SCORER_SCHEMA_REGISTRY_USERNAME",
        "LOAN_SCORER_SCHEMA_REGISTRY_PASSWORD",
        "LOAN_SCORER_MODEL_URI",
        "LOAN_SCORER_MLFLOW_HOME",
        "MLFLOW_TRACKING_URI",  # MLflow's own variable, read by the registry client
        "LOAN_SCORER_HTTP_OPS_PORT",
        "LOAN_SCORER_API_AUTH_ENABLED",
        "LOAN_SCORER_API_KEYS_FILE",
        "LOAN_SCORER_JWT_JWKS_FILE",
        "LOAN_SCORER_JWT_ISSUER",
        "LOAN_SCORER_JWT_AUDIENCE",
        "LOAN_SCORER_API_RATE_PER_S",
        "LOAN_SCORER_API_RATE_BURST",
        "LOAN_SCORER_HTTP_BODY_TIMEOUT_S",
        "LOAN_SCORER_HTTP_LIMIT_CONCURRENCY",
        "LOAN_SCORER_API_DOCS_ENABLED",
        "LOAN_SCORER_HTTP_TLS_CERT_FILE",
        "LOAN_SCORER_HTTP_TLS_KEY_FILE",
        "LOAN_SCORER_STATE_DIR",
        "LOAN_SCORER_STATE_CACHE_MB",
    }
)

#: Metric families as exposed (counters with their `_total` suffix) and their label names.
METRICS: dict[str, tuple[MetricType, frozenset[str]]] = {
    "loan_scorer_events_consumed_total": ("counter", frozenset()),
    "loan_scorer_events_scored_total": ("counter", frozenset({"decision", "model_version"})),
    "loan_scorer_dead_letters_total": ("counter", frozenset({"reason"})),
    "loan_scorer_transactions_total": ("counter", frozenset({"outcome"})),
    "loan_scorer_kafka_retries_total": ("counter", frozenset({"operation"})),
    "loan_scorer_undeliverable_records_total": ("counter", frozenset()),
    "loan_scorer_retry_failing_seconds": ("gauge", frozenset({"loop"})),
    "loan_scorer_retry_stalled": ("gauge", frozenset({"loop"})),
    "loan_scorer_producer_replacements_total": ("counter", frozenset({"reason"})),
    "loan_scorer_abandoned_producers": ("gauge", frozenset()),
    "loan_scorer_duplicates_total": ("counter", frozenset()),
    "loan_scorer_state_ids": ("gauge", frozenset()),
    "loan_scorer_state_bytes_on_disk": ("gauge", frozenset()),
    "loan_scorer_state_restore_records_total": ("counter", frozenset()),
    "loan_scorer_out_of_range_total": ("counter", frozenset({"field"})),
    "loan_scorer_batch_events": ("histogram", frozenset()),
    "loan_scorer_scoring_duration_seconds": ("histogram", frozenset()),
    "loan_scorer_end_to_end_latency_seconds": ("histogram", frozenset()),
    "loan_scorer_processing_latency_seconds": ("histogram", frozenset()),
    "loan_scorer_consumer_lag_messages": ("gauge", frozenset({"topic", "partition"})),
    "loan_scorer_probability_of_default": ("histogram", frozenset()),
    "loan_scorer_model_info": ("gauge", frozenset({"model_version", "policy_version"})),
    "loan_scorer_population_stability_index": ("gauge", frozenset({"feature"})),
    "loan_scorer_ready": ("gauge", frozenset()),
    "loan_scorer_http_requests_total": ("counter", frozenset({"route", "status"})),
    "loan_scorer_http_request_duration_seconds": ("histogram", frozenset({"route"})),
    # Champion and challengers (consumer/pipeline/challengers.py).
    "loan_scorer_model_scores_total": (
        "counter",
        frozenset({"model_version", "role", "decision"}),
    ),
    "loan_scorer_shadow_errors_total": ("counter", frozenset({"model_version"})),
    "loan_scorer_model_role_info": ("gauge", frozenset({"model_version", "role", "share"})),
}

#: The outcomes joiner's metrics (`loan-scorer outcomes`, its own port).
OUTCOMES_METRICS: dict[str, tuple[MetricType, frozenset[str]]] = {
    **{
        f"loan_scorer_realised_{name}": ("gauge", frozenset({"model_version", "role"}))
        for name in (
            "pairs",
            "defaults",
            "roc_auc",
            "ks",
            "brier",
            "calibration_error",
            "approval_rate",
            "default_rate",
        )
    },
    "loan_scorer_realised_default_rate_by_grade": (
        "gauge",
        frozenset({"model_version", "role", "grade"}),
    ),
    "loan_scorer_realised_default_rate_by_decision": (
        "gauge",
        frozenset({"model_version", "role", "decision"}),
    ),
    **{
        f"loan_scorer_realised_auc_difference{suffix}": (
            "gauge",
            frozenset({"champion_version", "challenger_version", "challenger_role"}),
        )
        for suffix in ("", "_ci_low", "_ci_high")
    },
    "loan_scorer_adverse_impact_ratio": (
        "gauge",
        frozenset({"model_version", "role", "attribute", "group"}),
    ),
    "loan_scorer_outcomes_records_total": ("counter", frozenset({"stream"})),
    "loan_scorer_outcomes_invalid_records_total": ("counter", frozenset({"stream"})),
    "loan_scorer_outcomes_refresh_seconds": ("gauge", frozenset()),
    # The joiner's retry bound (loop="outcomes"), the same series as the scorer's.
    "loan_scorer_retry_failing_seconds": ("gauge", frozenset({"loop"})),
    "loan_scorer_retry_stalled": ("gauge", frozenset({"loop"})),
}


def series_names() -> frozenset[str]:
    """Every series name a query may select: histograms add _bucket, _sum and _count."""
    names: set[str] = set()
    for name, (kind, _labels) in {**METRICS, **OUTCOMES_METRICS}.items():
        names.add(name)
        if kind == "histogram":
            names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return frozenset(names)
