"""Reading and writing test records through a real broker, with bounded waits."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer


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


def consume(
    bootstrap: str,
    topic: str,
    *,
    expected: int,
    group_id: str,
    timeout_s: float = 60.0,
    settle_s: float = 2.0,
    isolation: str = "read_committed",
) -> list[Record]:
    """Read a topic from the beginning until `expected` records arrived and then nothing more for
    `settle_s` (so duplicates beyond the expected count are seen), or until `timeout_s`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    consumer.subscribe([topic])
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(records) >= expected:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= settle_s:
                        break
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consume error: {error}")
            quiet_since = None
            records.append(as_record(msg))
    finally:
        consumer.close()
    return records
