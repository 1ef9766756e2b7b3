from __future__ import annotations

import pytest

from consumer.config.settings import Settings
from consumer.kafka.config import consumer_config, producer_config


def settings(**overrides: object) -> Settings:
    return Settings.model_validate({"instance_id": "pod-0", **overrides})


def test_exactly_once_uses_a_transactional_producer_and_no_consumer_commits() -> None:
    s = settings()
    producer, consumer = producer_config(s), consumer_config(s)
    assert producer["transactional.id"] == "loan-scorer-pod-0"
    assert producer["enable.idempotence"] is True
    assert producer["transaction.timeout.ms"] == 10_000
    assert producer["delivery.report.only.error"] is True  # failures still call back
    assert consumer["enable.auto.commit"] is False
    assert consumer["isolation.level"] == "read_committed"
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"


def test_at_least_once_stores_offsets_only_explicitly() -> None:
    s = settings(delivery="at-least-once")
    producer, consumer = producer_config(s), consumer_config(s)
    assert "transactional.id" not in producer
    assert producer["enable.idempotence"] is True
    assert consumer["enable.auto.commit"] is True
    assert consumer["enable.auto.offset.store"] is False


@pytest.mark.parametrize("build", [consumer_config, producer_config])
def test_extra_config_passes_through(build: object) -> None:
    s = settings(kafka_extra_config={"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"})
    config = build(s)  # type: ignore[operator]
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "PLAIN"


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_where_a_new_group_starts_is_a_setting(reset: str) -> None:
    assert consumer_config(settings(auto_offset_reset=reset))["auto.offset.reset"] == reset


def test_a_new_group_starts_at_the_oldest_retained_event_by_default() -> None:
    assert consumer_config(settings())["auto.offset.reset"] == "earliest"


def test_a_dead_member_holds_its_partitions_for_ten_seconds_unless_configured_otherwise() -> None:
    assert consumer_config(settings())["session.timeout.ms"] == 10_000
    tuned = settings(kafka_extra_config={"session.timeout.ms": 30_000})
    assert consumer_config(tuned)["session.timeout.ms"] == 30_000


def test_a_transaction_refused_while_the_last_one_completes_is_retried_within_10_ms() -> None:
    """CONCURRENT_TRANSACTIONS after every commit: librdkafka's 100 ms default backoff was most
    of the p99 latency at steady rates (consumer/kafka/config.py)."""
    assert producer_config(settings())["retry.backoff.ms"] == 10
    tuned = settings(kafka_extra_config={"retry.backoff.ms": 50})
    assert producer_config(tuned)["retry.backoff.ms"] == 50
    assert "retry.backoff.ms" not in producer_config(settings(delivery="at-least-once"))
