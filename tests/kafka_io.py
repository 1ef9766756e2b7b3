"""Reading and writing test records through a real broker, with bounded waits."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def _as_bytes(data: str | bytes | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data


def as_record(msg: Message) -> Record:
    """A plain, comparable copy of a consumed message (bytes headers as the broker gave them)."""
    raw_headers = msg.headers()
    headers = raw_headers if isinstance(raw_headers, list) else []
    return Record(
        topic=str(msg.topic()),
        partition=int(msg.partition() or 0),
        offset=int(msg.offset() or 0),
        key=_as_bytes(msg.key()),
        value=_as_bytes(msg.value()),
        headers=tuple(
            (name, value if isinstance(value, bytes) else b"") for name, value in headers
        ),
    )


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]
) -> int:
    """Produce (key, value) pairs idempotently and wait until every one is acknowledged."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    errors: list[KafkaError] = []
    count = 0

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or errors:
        raise AssertionError(f"{remaining} records unflushed, delivery errors: {errors[:3]}")
    return count


OFFSET_BEGINNING = -2  # librdkafka's logical offset
# Reading records known to be there (up to end offsets already stated) takes well under a
# second; a reader that cannot within this long is broken, whatever the caller's deadline.
READ_TO_END_GRACE_S = 30.0


class TopicReader:
    """Reads every partition of a topic from its beginning, to its end offsets as they are when
    asked: the high watermark, or under read_committed the last stable offset (where the first
    still-open transaction starts; past it nothing can be read yet). "Read to the end" is a
    fact the broker states, not a guess from a quiet spell: a writer retrying after a 10 s
    backoff is not mistaken for a finished one, and a reader that stopped early cannot pass.

    Every consumer error fails the read (AssertionError), as does missing the deadline."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        group_id: str,
        isolation: str = "read_committed",
        deadline: float,
        config: dict[str, str | int | float | bool] | None = None,
    ) -> None:
        self._topic = topic
        self._deadline = deadline
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,  # required by the client; never joined, nothing committed
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": isolation,
                **(config or {}),
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=self._left())
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            self.close()
            raise AssertionError(f"topic {topic} not readable: {found and found.error}")
        self._partitions = sorted(found.partitions)
        self._reached = dict.fromkeys(self._partitions, 0)  # the next offset to read, per partition
        self._consumer.assign(
            [TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in self._partitions]
        )
        self.records: list[Record] = []

    def _left(self) -> float:
        """The time a broker request may take: what is left, and never under 10 s (a request
        cut short near the deadline would fail as a timeout, not say how many were read)."""
        return max(self._deadline - time.monotonic(), 10.0)

    def end_offsets(self) -> dict[int, int]:
        """Per partition, the offset a reader of this isolation level can reach now."""
        return {
            partition: self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, partition), timeout=self._left(), cached=False
            )[1]
            for partition in self._partitions
        }

    def poll(self, timeout_s: float) -> None:
        """One poll: a record is kept, an end of partition noted, any other error raised."""
        msg = self._consumer.poll(timeout_s)
        if msg is None:
            return
        error = msg.error()
        partition, offset = int(msg.partition() or 0), int(msg.offset() or 0)
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                raise AssertionError(f"consume error on {self._topic}: {error}")
            self._reached[partition] = max(self._reached[partition], offset)
            return
        self.records.append(as_record(msg))
        self._reached[partition] = max(self._reached[partition], offset + 1)

    def read_to(self, ends: dict[int, int], what: str = "") -> None:
        """Poll until every partition is read to `ends`; AssertionError at the deadline (given
        READ_TO_END_GRACE_S at least: what is there to read must be read, even late)."""
        deadline = max(self._deadline, time.monotonic() + READ_TO_END_GRACE_S)
        while any(self._reached[p] < end for p, end in ends.items()):
            if time.monotonic() > deadline:
                behind = {p: (self._reached[p], end) for p, end in ends.items()}
                raise AssertionError(
                    f"{self._topic}: not read to its end offsets in time {what}"
                    f"({len(self.records)} records; partition: (reached, end) {behind})"
                )
            self.poll(0.2)

    def read_at_least(self, expected: int, *, fail_short: bool = True) -> None:
        """Read to the end offsets until `expected` records were read. If the deadline passes
        first: AssertionError saying how many came, or (`fail_short=False`, for a verdict that
        counts what is missing) return, having read to the end offsets of that moment."""
        while True:
            self.read_to(self.end_offsets(), f"(expected {expected}) ")
            if len(self.records) >= expected:
                return
            if time.monotonic() > self._deadline:
                if fail_short:
                    raise AssertionError(
                        f"{self._topic}: {len(self.records)} records, expected {expected}, "
                        "by the deadline"
                    )
                return
            self.poll(0.2)  # more may come: wait a little before asking for the ends again

    def close(self) -> None:
        self._consumer.close()


def consume(
    bootstrap: str,
    topic: str,
    *,
    expected: int,
    group_id: str,
    timeout_s: float = 60.0,
    settle_s: float = 0.0,
    isolation: str = "read_committed",
) -> list[Record]:
    """Every record of a topic, read from the beginning to its end offsets once at least
    `expected` are there (so any beyond the expected count written by then, duplicates, are
    read too). `settle_s` > 0 then waits that long and reads to the new end offsets, for a
    test that must also see what a writer adds after a pause. AssertionError when `expected`
    are not there within `timeout_s`, or on any consumer error."""
    reader = TopicReader(
        bootstrap,
        topic,
        group_id=group_id,
        isolation=isolation,
        deadline=time.monotonic() + timeout_s + settle_s,
    )
    try:
        reader.read_at_least(expected)
        if settle_s > 0:
            time.sleep(settle_s)
            reader.read_to(reader.end_offsets(), "(after settling) ")
        return reader.records
    finally:
        reader.close()
