"""The dedup changelog on the broker: read one partition's committed ids, create the topic.

The decisions (what is a duplicate, the record format) are in consumer/pipeline/dedup.py; this
module is their Kafka edge, so the pipeline room holds no client.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.kafka.config import ClientConfig
from consumer.kafka.topics import partition_count
from consumer.pipeline.dedup import changelog_entries
from consumer.state.errors import ChangelogError
from consumer.state.partitions import ChangelogChunk
from consumer.state.scored_id import ScoredId

logger = logging.getLogger(__name__)


# Entries handed to the store per write while restoring: memory is one chunk, whatever the size
# of the changelog.
CHUNK_RECORDS = 500


class KafkaChangelog:
    """The changelog's committed records, one partition at a time, for the state store
    (consumer/state/partitions.py `ChangelogSource`). The topic is created (or checked) on first
    use, not at start-up: a missing input topic is a readiness matter, and the scorer waits for it
    rather than failing.

    A read has no bound on its length, only on silence: it goes on while records arrive, and
    raises `ChangelogError` after `timeout_s` without any (a broker away). What was restored until
    then is in the store with its offset, so the next attempt resumes from there, not from zero.
    """

    def __init__(
        self,
        config: ClientConfig,
        topic: str,
        *,
        input_topic: str,
        window_s: float,
        timeout_s: float = 30.0,
        new_consumer: Callable[[dict[str, object]], Consumer] = Consumer,
    ):
        self._admin_config = config
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

    def end_offset(self, partition: int) -> int:
        """Asked again while the client's metadata does not know the partition yet (right
        after the topic was created), up to `timeout_s`."""
        self._ensure()
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                _low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition), timeout=self._timeout_s
                )
            except KafkaException as error:
                if time.monotonic() >= deadline:
                    raise self._failed(partition, error) from None
                time.sleep(0.2)
                continue
            return int(high)

    def start_offset(self, partition: int, since_epoch_s: float) -> int:
        """The first offset at or after the time; retried while the client's metadata does not
        know the partition yet (right after the topic was created)."""
        self._ensure()
        wanted = TopicPartition(self._topic, partition, int(max(since_epoch_s, 0) * 1000))
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                [start] = self._consumer.offsets_for_times([wanted], timeout=self._timeout_s)
            except KafkaException as error:
                if time.monotonic() >= deadline:
                    raise self._failed(partition, error) from None
                time.sleep(0.2)
                continue
            if start.error is not None:
                raise self._failed(partition, start.error)
            return start.offset if start.offset >= 0 else self.end_offset(partition)

    def read(self, partition: int, start: int) -> Iterator[ChangelogChunk]:
        self._ensure()
        self._consumer.assign([TopicPartition(self._topic, partition, start)])
        entries: list[tuple[str, ScoredId]] = []
        quiet_since = time.monotonic()
        try:
            while True:
                msg = self._consumer.poll(0.5)
                now = time.monotonic()
                if msg is None:
                    if now - quiet_since > self._timeout_s:
                        raise self._failed(partition, f"nothing read in {self._timeout_s:.0f} s")
                    continue
                quiet_since = now
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        yield entries, int(msg.offset() or 0)
                        return
                    raise self._failed(partition, error)
                entries.extend(changelog_entries(msg.key(), msg.value(), msg.timestamp()[1] / 1000))
                if len(entries) >= CHUNK_RECORDS:
                    yield entries, int(msg.offset() or 0) + 1
                    entries = []
        except ChangelogError:
            self._replace_consumer()
            raise
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                self._consumer.unassign()

    def close(self) -> None:
        self._consumer.close()

    def _ensure(self) -> None:
        if not self._ensured:
            # A client for this one job, dropped after it: idle, it would hold connections and
            # queue log lines no one polls (consumer/kafka/config.py `client_logging`).
            admin = AdminClient(self._admin_config)
            try:
                ensure_changelog(admin, self._input_topic, self._topic, self._window_s)
            finally:
                admin.poll(0)
            self._ensured = True

    def _failed(self, partition: int, error: object) -> ChangelogError:
        return ChangelogError(f"changelog {self._topic}[{partition}]: {error_text(error)}")

    def _replace_consumer(self) -> None:
        """After a failed read, a new client: after a broker restart that came right after the
        changelog was created, every later read by the same client failed for as long as the
        scorer ran (test_scorer_faults), though the broker was back and the topic there. Reading
        is all this client does, so a new one loses nothing."""
        logger.warning("changelog read failed; its consumer is replaced")
        stale, self._consumer = self._consumer, self._new_consumer(self._consumer_config)
        with contextlib.suppress(KafkaException, RuntimeError):
            stale.close()


def error_text(error: object) -> str:
    """A Kafka error as ops read it on /readyz and in the exit line: its name, then what the
    client says (`TOPIC_AUTHORIZATION_FAILED: Fetch from broker 1 failed: ...`), not the
    `KafkaError{code=...,val=29,str="..."}` of its repr."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        error = error.args[0]
    if isinstance(error, KafkaError):
        return f"{error.name()}: {error.str()}"
    return str(error)


def ensure_changelog(
    admin: AdminClient, input_topic: str, changelog_topic: str, window_s: float
) -> None:
    """Create the changelog with the input's partition count (compacted, kept for the window),
    or check that the existing one has that count: a partition's ids live in its own number.
    A cluster that does not answer is a `ChangelogError` (the batch is read again later), never
    an uncaught `KafkaException` that would end the process."""
    try:
        _ensure_changelog(admin, input_topic, changelog_topic, window_s)
    except KafkaException as error:
        raise ChangelogError(f"changelog {changelog_topic}: {error_text(error)}") from None


def _ensure_changelog(
    admin: AdminClient, input_topic: str, changelog_topic: str, window_s: float
) -> None:
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
            raise ChangelogError(
                f"cannot create changelog {changelog_topic}: {error_text(error)}"
            ) from error
    if partition_count(admin, changelog_topic, wait_s=30.0) != partitions:
        raise ChangelogError(f"changelog {changelog_topic} did not appear with its partitions")
    logger.info("changelog %s created with %d partitions", changelog_topic, partitions)
