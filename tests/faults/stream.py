"""The input of a fault test and the verdict on its output, read back with read_committed.

Inputs: N events over a few hundred keys, each key's events numbered in its `event_id` so the order
per key can be checked on the output; every `poison_every`-th event is an invalid one (the demo's
breakages, each with a unique key). The verdict holds the issue's checks: every valid input has
exactly one score, every invalid one exactly one dead letter, order per key holds, and the group's
committed offsets reach the end of the input.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from tests.kafka_io import Record, TopicReader, as_record

KEYS = 200
OFFSET_BEGINNING = -2  # librdkafka's logical offset
BIG_MESSAGE_BYTES = 8 * 1024 * 1024


def fault_events(default: int) -> int:
    """N per fault: FAULT_EVENTS (make soak sets 20,000), else the test's default."""
    return int(os.environ.get("FAULT_EVENTS", default))


def _event_id(key: int, seq: int) -> str:
    return f"00000000-0000-4000-8000-{key:04d}{seq:08d}"


@dataclass(frozen=True)
class Inputs:
    records: list[tuple[bytes, bytes]]
    valid_event_ids: set[str]
    invalid_keys: set[bytes]


def keyed_inputs(n: int, poison_every: int = 50) -> Inputs:
    """N events; every `poison_every`-th is one of the demo's invalid events."""
    records: list[tuple[bytes, bytes]] = []
    valid: set[str] = set()
    invalid: set[bytes] = set()
    seq_by_key: dict[int, int] = defaultdict(int)
    for i, event in enumerate(demo_events(n, broken_every=poison_every)):
        if event.broken is not None:
            key = f"poison-{i}".encode()
            records.append((key, event.value))
            invalid.add(key)
            continue
        k = i % KEYS
        body = orjson.loads(event.value)
        body["application_id"] = f"app-{k:04d}"
        body["event_id"] = _event_id(k, seq_by_key[k])
        seq_by_key[k] += 1
        records.append((body["application_id"].encode(), orjson.dumps(body)))
        valid.add(body["event_id"])
    return Inputs(records, valid, invalid)


def produce_all(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 20,
            "message.max.bytes": BIG_MESSAGE_BYTES,
        }
    )
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _msg: object) -> None:
        if error is not None:
            failures.append(error)

    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(120) == 0, "inputs not all acknowledged"
    assert not failures, failures[:3]


class PacedInputs:
    """The inputs sent at a steady rate from a thread, so the stream lasts long enough for the
    faults to land in it: produced up front, 3,000 events were all scored by two members before
    a third had started (tests/faults/test_group_membership.py, issue 23)."""

    def __init__(
        self, bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], duration_s: float
    ) -> None:
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
        )
        self._topic = topic
        self._records = records
        self._interval_s = duration_s / max(len(records), 1)
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="paced-inputs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        next_send = time.monotonic()
        for key, value in self._records:
            # Not poll(delay): it returns at the first delivery report, which undid the pace.
            self._producer.poll(0)
            delay = next_send - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_send += self._interval_s
            while True:
                try:
                    self._producer.produce(
                        self._topic, key=key, value=value, on_delivery=self._delivered
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)
        if self._producer.flush(120):
            self.failures.append("inputs not all acknowledged")

    def _delivered(self, error: KafkaError | None, _msg: object) -> None:
        if error is not None:
            self.failures.append(str(error))

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the paced inputs were not all sent in time"
        assert not self.failures, self.failures[:3]


class CommittedReader:
    """A read_committed reader of the output running during the faults: what it sees must never
    be missing later, nor be seen twice (exactly-once).

    It assigns itself every partition instead of joining a group: a group member rides out a
    broker fault by rejoining, which took up to its 45 s session and, with nothing committed,
    read the topic again from the start. That counted the reader's own recovery as the scorer's
    (44 s) and every re-read record as "seen twice" while the topic held each score once. It
    also reconnects promptly (a broker back is seen within half a second, not up to 10 s)."""

    def __init__(self, bootstrap: str, topic: str, group_id: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,  # required by the client; never joined, nothing committed
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "reconnect.backoff.ms": 100,
                "reconnect.backoff.max.ms": 500,
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=30)
        self._consumer.assign(
            [
                TopicPartition(topic, partition, OFFSET_BEGINNING)
                for partition in sorted(metadata.topics[topic].partitions)
            ]
        )
        self.seen: list[str] = []
        self.arrivals: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="committed-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            event_id = str(decode_loan_scored(as_record(msg).value).source_event_id)
            with self._lock:
                self.seen.append(event_id)
                self.arrivals.append(time.monotonic())

    def count(self) -> int:
        with self._lock:
            return len(self.seen)

    def assert_mid_stream(self, total: int, fault: str) -> int:
        """The count committed now, asserting the stream is mid-way: some output committed,
        some not yet. Called right after a fault is injected, it shows the fault landed while
        there was work left (a fault after the last commit would test nothing)."""
        count = self.count()
        assert 0 < count < total, f"{fault} did not land mid-stream: {count} of {total} committed"
        return count

    def first_arrival_after(
        self, moment: float, timeout_s: float, alive: Callable[[], bool] = lambda: True
    ) -> float | None:
        """Seconds from `moment` to the first record that arrives after it (None: none came, or
        `alive` says the scorer that would write it has died)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                later = [t for t in self.arrivals if t > moment]
            if later:
                return later[0] - moment
            if not alive():
                return None
            time.sleep(0.05)
        return None

    def wait_for(
        self, count: int, timeout_s: float, alive: Callable[[], bool] = lambda: True
    ) -> bool:
        """Whether `count` records arrived within `timeout_s`; False at once when `alive` says
        the scorer producing them has died (no use waiting out the timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            if not alive():
                return self.count() >= count
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float) -> list[Record]:
    """Everything committed on `topic`: read to its end offsets (the last stable offset) once
    `expected` records are there, or at `timeout_s` to the end offsets of that moment (the
    verdict counts what is missing). Any consumer error, or a read that cannot reach the end
    offsets, is an AssertionError: a verdict is never taken on a partial read."""
    reader = TopicReader(
        bootstrap,
        topic,
        group_id=f"verdict-{topic}-{time.monotonic_ns()}",
        deadline=time.monotonic() + timeout_s,
        config={"fetch.message.max.bytes": BIG_MESSAGE_BYTES},
    )
    try:
        reader.read_at_least(expected, fail_short=False)
        return reader.records
    finally:
        reader.close()


@dataclass
class Verdict:
    lost: int
    duplicated: int
    dead_letters_lost: int
    dead_letters_duplicated: int
    out_of_order_keys: list[str]
    uncommitted_partitions: dict[int, tuple[int, int]]
    reader_saw_twice: int
    reader_saw_then_missing: int
    details: list[str] = field(default_factory=list)

    def assert_exactly_once(self) -> None:
        assert self.lost == 0, self.details
        assert self.duplicated == 0, self.details
        assert self.dead_letters_duplicated == 0, self.details
        self._assert_common()
        assert self.reader_saw_twice == 0, "a read_committed reader saw a score twice"

    def assert_at_least_once(self) -> None:
        assert self.lost == 0, self.details
        self._assert_common()

    def _assert_common(self) -> None:
        assert self.dead_letters_lost == 0, self.details
        assert self.out_of_order_keys == [], self.out_of_order_keys[:5]
        assert self.uncommitted_partitions == {}, self.uncommitted_partitions
        assert self.reader_saw_then_missing == 0, "a reader saw a score that is later missing"


def verdict(
    bootstrap: str,
    topics: object,
    group_id: str,
    inputs: Inputs,
    reader: CommittedReader | None = None,
    *,
    exactly_once: bool = True,
    timeout_s: float = 180,
) -> Verdict:
    """Read everything back with read_committed and compare it with the inputs."""
    output, dlq, input_topic = topics.output, topics.dlq, topics.input  # type: ignore[attr-defined]
    scores = read_topic(bootstrap, output, len(inputs.valid_event_ids), timeout_s)
    ids = Counter(str(decode_loan_scored(r.value).source_event_id) for r in scores)
    # The count can be reached before every id is there (at-least-once repeats scores after a
    # kill, and a scorer may still be scoring): read again, to the end offsets of each moment,
    # while ids are missing, for up to MISSING_WAIT_S.
    settle_deadline = time.monotonic() + MISSING_WAIT_S
    while inputs.valid_event_ids - set(ids) and time.monotonic() < settle_deadline:
        time.sleep(1.0)
        scores = read_topic(bootstrap, output, len(inputs.valid_event_ids), timeout_s)
        ids = Counter(str(decode_loan_scored(r.value).source_event_id) for r in scores)
    letters = read_topic(bootstrap, dlq, len(inputs.invalid_keys), 60)
    letter_keys = Counter(r.key for r in letters)
    for record in letters:
        assert parse_dead_letter_headers(list(record.headers)).reason, "a dead letter has no reason"

    out_of_order: list[str] = []
    by_key: dict[bytes | None, list[str]] = defaultdict(list)
    for record in sorted(scores, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(str(decode_loan_scored(record.value).source_event_id))
    for key, sequence in by_key.items():
        firsts = list(dict.fromkeys(sequence))  # at-least-once: a re-sent run repeats, in order
        if firsts != sorted(firsts):
            out_of_order.append(str(key))

    uncommitted = committed_to_the_end(bootstrap, input_topic, group_id, COMMIT_WAIT_S)
    seen = Counter(reader.seen) if reader is not None else Counter()
    lost = inputs.valid_event_ids - set(ids)
    return Verdict(
        lost=len(lost),
        duplicated=sum(n - 1 for n in ids.values() if n > 1),
        dead_letters_lost=len(inputs.invalid_keys - set(letter_keys)),
        dead_letters_duplicated=sum(n - 1 for n in letter_keys.values() if n > 1),
        out_of_order_keys=out_of_order,
        uncommitted_partitions=uncommitted,
        reader_saw_twice=sum(n - 1 for n in seen.values() if n > 1),
        reader_saw_then_missing=len(set(seen) - set(ids)),
        details=[f"lost e.g. {sorted(lost)[:3]}", f"{len(scores)} scores read"],
    )


# At-least-once commits its stored offsets in the background (librdkafka's auto-commit, every
# 5 s): read back to the output's end, the group's offsets may still be that far behind.
COMMIT_WAIT_S = 30.0
MISSING_WAIT_S = 60.0


def committed_to_the_end(
    bootstrap: str, topic: str, group_id: str, timeout_s: float
) -> dict[int, tuple[int, int]]:
    """The input partitions still not committed to their end after up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        behind = uncommitted_partitions(bootstrap, topic, group_id)
        if not behind or time.monotonic() >= deadline:
            return behind
        time.sleep(0.5)


def uncommitted_partitions(bootstrap: str, topic: str, group_id: str) -> dict[int, tuple[int, int]]:
    """Input partitions whose committed offset is not their end: {partition: (committed, end)}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=30)
        behind = {}
        for position in committed:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, position.partition), timeout=30
            )
            if position.offset != high:
                behind[position.partition] = (position.offset, high)
        return behind
    finally:
        consumer.close()
