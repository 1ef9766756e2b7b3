"""The dedup changelog on the broker: read one partition's committed ids, create the topic.

The decisions (what is a duplicate, the record format) are in consumer/pipeline/dedup.py; this
module is their Kafka edge, so the pipeline room holds no client.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.kafka.config import KafkaConfig
from consumer.kafka.topics import partition_count
from consumer.pipeline.dedup import ChangelogError, changelog_ids

logger = logging.getLogger(__name__)


class KafkaChangelogReader:
    """Reads one changelog partition's committed records, from a time to its end. The topic is
    created (or checked) on first use, not at start-up: a missing input topic is a readiness
    matter, and the scorer waits for it rather than failing."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        *,
        input_topic: str,
        window_s: float,
        timeout_s: float = 30.0,
        new_consumer: Callable[[dict[str, object]], Consumer] = Consumer,
    ):
        self._admin = AdminClient(config)
        self._input_topic = input_topic
        self._window_s = window_s
        self._ensured = False
        self._consumer_config: dict[str, object] = {
            **config,
            "group.id": f"{topic}.restore",  # never subscribes nor commits
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
        self._new_consumer = new_consumer
        self._consumer = new_consumer(self._consumer_config)
        self._topic = topic
        self._timeout_s = timeout_s

    def read(self, partition: int, since_epoch_s: float) -> dict[str, float]:
        """A failed read replaces the restore consumer before it raises: after a broker restart
        that came right after the changelog was created, every later read by the same client
        failed for as long as the scorer ran (a 30 s timeout each, nothing scored:
        test_scorer_faults), though the broker was back and the topic there. Reading is all
        this client does, so a new one loses nothing and carries none of the old one's state."""
        try:
            return self._read(partition, since_epoch_s)
        except ChangelogError as error:
            logger.warning(
                "changelog read failed; its consumer is replaced", extra={"error": str(error)}
            )
            stale, self._consumer = self._consumer, self._new_consumer(self._consumer_config)
            with contextlib.suppress(KafkaException, RuntimeError):
                stale.close()
            raise

    def _read(self, partition: int, since_epoch_s: float) -> dict[str, float]:
        if not self._ensured:
            ensure_changelog(self._admin, self._input_topic, self._topic, self._window_s)
            self._ensured = True
        start = self._start(partition, since_epoch_s)
        if start.error is not None:
            raise ChangelogError(f"changelog {self._topic}[{partition}]: {start.error}")
        seen: dict[str, float] = {}
        if start.offset < 0:  # nothing as recent as that
            return seen
        self._consumer.assign([TopicPartition(self._topic, partition, start.offset)])
        deadline = time.monotonic() + self._timeout_s
        try:
            while True:
                if time.monotonic() > deadline:
                    raise ChangelogError(
                        f"changelog {self._topic}[{partition}] not read to its end in "
                        f"{self._timeout_s:.0f} s"
                    )
                msg = self._consumer.poll(0.5)
                if msg is None:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return seen
                    raise ChangelogError(f"changelog {self._topic}[{partition}]: {error}")
                scored_at = msg.timestamp()[1] / 1000
                for event_id in changelog_ids(msg.key(), msg.value()):
                    seen[event_id] = scored_at
        finally:
            self._consumer.unassign()

    def _start(self, partition: int, since_epoch_s: float) -> TopicPartition:
        """The first offset at or after the time; retried while the client's metadata does not
        know the partition yet (right after the topic was created)."""
        wanted = TopicPartition(self._topic, partition, int(max(since_epoch_s, 0) * 1000))
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                [start] = self._consumer.offsets_for_times([wanted], timeout=self._timeout_s)
            except KafkaException as error:
                if time.monotonic() >= deadline:
                    raise ChangelogError(f"changelog {self._topic}[{partition}]: {error}") from None
                time.sleep(0.2)
                continue
            return start

    def close(self) -> None:
        self._consumer.close()


def ensure_changelog(
    admin: AdminClient, input_topic: str, changelog_topic: str, window_s: float
) -> None:
    """Create the changelog with the input's partition count (compacted, kept for the window),
    or check that the existing one has that count: a partition's ids live in its own number."""
    partitions = partition_count(admin, input_topic, wait_s=5.0)
    if partitions is None:
        raise ChangelogError(f"input topic {input_topic} not found")
    existing = partition_count(admin, changelog_topic, wait_s=0.0)
    if existing is not None:
        if existing != partitions:
            raise ChangelogError(
                f"changelog {changelog_topic} has {existing} partitions, "
                f"input {input_topic} has {partitions}: they must match"
            )
        return
    retention_ms = int(window_s * 1000) + 24 * 3600 * 1000  # a day beyond the window
    topic = NewTopic(
        changelog_topic,
        num_partitions=partitions,
        replication_factor=-1,  # the broker's default
        config={"cleanup.policy": "compact,delete", "retention.ms": str(retention_ms)},
    )
    future = admin.create_topics([topic], operation_timeout=30)[changelog_topic]
    try:
        future.result(timeout=60)
    except Exception as error:  # created meanwhile by another replica is fine
        if "TOPIC_ALREADY_EXISTS" not in str(error):
            raise ChangelogError(f"cannot create changelog {changelog_topic}: {error}") from error
    if partition_count(admin, changelog_topic, wait_s=30.0) != partitions:
        raise ChangelogError(f"changelog {changelog_topic} did not appear with its partitions")
    logger.info("changelog %s created with %d partitions", changelog_topic, partitions)
