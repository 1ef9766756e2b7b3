"""What the two delivery modes hold and do alike: the parts they are built with, one producer at
a time with its batch writer, and the consumer whose offsets they commit and rewind. How a batch
is published and its offsets committed is each mode's own (delivery/at_least_once.py,
delivery/exactly_once.py)."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from consumer.config.settings import Settings
from consumer.delivery.batch_writer import BatchWriter
from consumer.delivery.mode import ClientErrorCallback
from consumer.kafka.config import admin_config, producer_config
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.kafka.rewind import FaultInjector
from consumer.kafka.topics import DescribeClient, topic_problem, topics_refusing_writes
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness

logger = logging.getLogger(__name__)

# How long a failed batch's diagnosis may ask the cluster for its topics.
DIAGNOSIS_TIMEOUT_S = 2.0


class DeliveryBase:
    def __init__(
        self,
        settings: Settings,
        metrics: ScorerMetrics,
        readiness: Readiness,
        tracker: PartitionTracker,
        *,
        on_client_error: ClientErrorCallback,
        fault_injector: FaultInjector | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._readiness = readiness
        self._tracker = tracker
        self._on_client_error = on_client_error
        self._fault_injector = fault_injector  # the fault tests' seam (consumer/kafka/rewind.py)
        self._producer: Producer | None = None
        self._writer: BatchWriter | None = None
        self._consumer: Consumer | None = None
        self._last_failure = "not published"

    def last_failure(self) -> str:
        return self._last_failure

    def attach(self, consumer: Consumer) -> None:
        """The consumer whose offsets this mode commits and rewinds."""
        self._consumer = consumer

    def replaced_scores(self) -> set[tuple[int, str]]:
        return set(self._writer.replaced_scores) if self._writer is not None else set()

    def _diagnosed(self, failure: str, writer: BatchWriter) -> str:
        """The failure, with what the cluster says is wrong with the topics the batch wrote: a
        commit that timed out names no topic, but a deleted one is missing from the metadata
        and one closed by an ACL carries TOPIC_AUTHORIZATION_FAILED. Listed, never named in
        the request, so a broker with auto-creation does not create the topic it checks."""
        if self._producer is None or not writer.topics_written:
            return failure
        roles = {
            self._settings.output_topic: "output",
            self._settings.dlq_topic: "dead-letter",
            self._settings.changelog_topic: "changelog",
            self._settings.shadow_topic: "shadow",
        }
        try:
            listed = self._producer.list_topics(timeout=DIAGNOSIS_TIMEOUT_S).topics
        except KafkaException:
            return failure  # the cluster does not answer: the failure says enough
        problems = {
            topic: problem
            for topic in sorted(writer.topics_written)
            if (problem := topic_problem(listed.get(topic), topic, roles.get(topic, "output")))
        }
        if "AUTHORIZATION_FAILED" in failure:
            # Listed and described alike, yet refused: an ACL that does not grant WRITE. Only
            # listed topics are described (by name), so none is created by asking.
            described = [t for t in writer.topics_written if t in listed and t not in problems]
            for topic in self._refusing_writes(described):
                role = roles.get(topic, "output")
                problems[topic] = f"{role} topic {topic!r}: WRITE not authorised"
        return "; ".join([failure, *(problems[topic] for topic in sorted(problems))])

    def _refusing_writes(self, topics: list[str]) -> list[str]:
        describer = self._describer()
        try:
            return topics_refusing_writes(describer, topics, DIAGNOSIS_TIMEOUT_S)
        finally:
            if isinstance(describer, AdminClient):
                describer.poll(0)  # its log lines (kafka/config.py `client_logging`)

    def _describer(self) -> DescribeClient:
        """A client for one diagnosis, dropped after it (an idle one would hold connections)."""
        return AdminClient(
            admin_config(self._settings, f"loan-scorer-{self._settings.instance_id}-diagnosis")
        )

    def _new_producer(self) -> Producer:
        """A producer configured for this mode by the settings, with a batch writer of its own;
        both replace any before them (the caller keeps what it still needs of the old ones)."""
        producer = Producer({**producer_config(self._settings), "error_cb": self._on_client_error})
        self._producer = producer
        self._writer = BatchWriter(
            producer, dlq_topic=self._settings.dlq_topic, metrics=self._metrics
        )
        return producer

    def _parts(self) -> tuple[Producer, Consumer, BatchWriter]:
        if self._producer is None or self._writer is None or self._consumer is None:
            raise RuntimeError("publish() needs open() and attach() first")
        return self._producer, self._consumer, self._writer
