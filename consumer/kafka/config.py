"""librdkafka configurations of the scorer's consumer and producer, per delivery mode.

Pure functions of the settings, so the choices that carry the delivery guarantees are unit-tested
rather than buried in client construction.
"""

from __future__ import annotations

from typing import Any

from consumer.config.settings import Settings
from consumer.telemetry.logs import librdkafka_logger

KafkaConfig = dict[str, str | int | float | bool]
# A client's whole configuration: librdkafka's settings and the Python objects confluent-kafka
# takes beside them (the logger, callbacks).
ClientConfig = dict[str, Any]


# A member that dies without leaving (kill -9, a node lost) holds its partitions until its session
# expires; librdkafka's 45 s default would make recovery take most of a minute. Heartbeats come
# from librdkafka's own thread, so a busy Python loop does not miss them. Extra config may override.
SESSION_TIMEOUT_MS = 10_000

# A transaction's first AddOffsetsToTxn arrives while the coordinator is still writing the markers
# of the one before (the EndTxn answer does not wait for them), so it is refused with
# CONCURRENT_TRANSACTIONS and librdkafka retries it after retry.backoff.ms: 100 ms by default, the
# larger part of the p99 end-to-end latency at steady rates (at 1,300 events/s, one batch's
# publish took p50 16 ms, p99 123 ms; with 10 ms, 8 ms and 31 ms; benchmarks/RESULTS.md). The
# backoff still doubles per retry up to retry.backoff.max.ms (1 s), so a broker away is not
# hammered. Extra config may override.
TRANSACTIONAL_RETRY_BACKOFF_MS = 10


def client_logging() -> ClientConfig:
    """librdkafka's own log lines through the structured logger (consumer/telemetry/logs.py)
    rather than raw on stderr. confluent-kafka then queues them and writes them when the client
    is polled (poll, consume, flush): a client the service creates must be polled now and then,
    or its lines wait (an AdminClient's included)."""
    return {"logger": librdkafka_logger()}


def admin_config(settings: Settings, client_id: str) -> ClientConfig:
    """An AdminClient's configuration: the shared settings, a client id, the logger."""
    return {**settings.kafka_common_config(), "client.id": client_id, **client_logging()}


def consumer_config(settings: Settings) -> ClientConfig:
    config: ClientConfig = {
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        **settings.kafka_common_config(),
        "group.id": settings.group_id,
        "client.id": f"loan-scorer-{settings.instance_id}",
        # Incremental rebalances: a member joining or leaving does not stop the others.
        "partition.assignment.strategy": "cooperative-sticky",
        # A group without committed offsets: "earliest" (default) scores the topic's retention.
        "auto.offset.reset": settings.auto_offset_reset,
        # Never see an upstream producer's aborted writes.
        "isolation.level": "read_committed",
        "enable.partition.eof": False,
        "statistics.interval.ms": settings.statistics_interval_ms,
        **client_logging(),
    }
    if settings.delivery == "exactly-once":
        # Offsets are committed inside the producer's transaction, never by the consumer.
        config["enable.auto.commit"] = False
    else:
        # Offsets are stored only after every output of a batch is acknowledged, and committed
        # in the background from that store: at-least-once.
        config["enable.auto.commit"] = True
        config["enable.auto.offset.store"] = False
    return config


def producer_config(settings: Settings) -> ClientConfig:
    config: ClientConfig = {
        **settings.kafka_common_config(),
        "client.id": f"loan-scorer-{settings.instance_id}",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        # Only a failed record calls back (batch_writer.py acts on failures only): a Python
        # callback per delivered record was CPU on the hot path, taken inside the commit.
        "delivery.report.only.error": True,
        **client_logging(),
    }
    if settings.delivery == "exactly-once":
        config["transactional.id"] = settings.transactional_id
        config.setdefault("retry.backoff.ms", TRANSACTIONAL_RETRY_BACKOFF_MS)
        # Bounds how long a crashed instance's open transaction can block read_committed readers
        # and the group's offset fetch, when no successor with the same id aborts it sooner.
        config["transaction.timeout.ms"] = settings.transaction_timeout_ms
    return config
