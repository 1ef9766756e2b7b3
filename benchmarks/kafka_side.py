"""The benchmark's side of the broker: topics, the committed-offset watcher that times a run,
the reader that checks what was committed, and the paced sender and reader of the latency runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from benchmarks.stats import cpu_ticks, on_schedule, poll_wait_s
from consumer.kafka.batching import consume_batch
from consumer.tools.demo_events import DemoEvent


def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in partitions.items()],
        operation_timeout=30,
    )
    for future in futures.values():
        future.result(60)


def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    if names:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.delete_topics(list(names), operation_timeout=30).values():
            future.result(60)


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=30).topics[topic]
    return sorted(metadata.partitions)


# -- process resources from /proc (Linux) ------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot: what the broker, the sender, the reader
    and the scorer together left of this machine."""
    return cpu_ticks(Path("/proc/stat").read_text().split("\n", 1)[0])


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- timing a run by its committed offsets -----------------------------------------------------


_COORDINATOR_MOVING = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError._TIMED_OUT,
    }
)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.monotonic()
    committed: int  # input records whose offsets the group has committed
    cpu_s: float  # the process's CPU seconds so far


class CommitWatcher:
    """Reads a group's committed offsets on the input topic (without joining the group).

    Under exactly-once a batch's offsets commit in the same transaction as its outputs, so the
    committed count is the count of inputs whose outputs are visible to read_committed readers.
    """

    def __init__(self, bootstrap: str, group_id: str, topic: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                # read_uncommitted: the offset fetch does not wait for the transaction in flight
                "isolation.level": "read_uncommitted",
            }
        )
        self._partitions = [TopicPartition(topic, p) for p in _partitions(self._consumer, topic)]

    def committed(self) -> int:
        """The group's committed offsets summed; a coordinator that is loading or moving
        (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, right after the broker started) is asked
        again, for up to 30 s."""
        deadline = time.monotonic() + 30
        while True:
            try:
                offsets = self._consumer.committed(self._partitions, timeout=10)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                transient = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in _COORDINATOR_MOVING
                )
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            return sum(max(tp.offset, 0) for tp in offsets)

    def watch(
        self, pid: int, total: int, budget_s: float, interval_s: float = 0.05
    ) -> list[Sample]:
        """Sample until every input is committed or `budget_s` has passed since the first
        commit (the start-up before it is not timed; a slow start is bounded by 120 s)."""
        samples: list[Sample] = []
        started: float | None = None
        deadline = time.monotonic() + 120
        while True:
            sample = Sample(time.monotonic(), self.committed(), cpu_seconds(pid))
            samples.append(sample)
            if sample.committed and started is None:
                started = sample.at
                deadline = started + budget_s
            if sample.committed >= total or sample.at >= deadline:
                return samples
            time.sleep(interval_s)

    def close(self) -> None:
        self._consumer.close()


@dataclass(frozen=True, slots=True)
class Window:
    events: int
    seconds: float
    cpu_s: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_s_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.events if self.events else 0.0


def timed_window(samples: Sequence[Sample]) -> Window:
    """From the first commit to the last sample: the steady part of the run (the start-up and
    the first batch are left out, as they are not throughput)."""
    moving = [s for s in samples if s.committed > 0]
    if len(moving) < 2:
        return Window(0, 0.0, 0.0)
    first, last = moving[0], moving[-1]
    return Window(last.committed - first.committed, last.at - first.at, last.cpu_s - first.cpu_s)


# -- what was committed ------------------------------------------------------------------------


def committed_keys(bootstrap: str, topics: Sequence[str], timeout_s: float = 120) -> list[bytes]:
    """The keys of every committed record of the topics, read from the beginning to the end
    (read_committed; call it once the writer has stopped)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-reader",  # never joined: assign only, nothing committed
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    assignment = [
        TopicPartition(topic, p, OFFSET_BEGINNING)
        for topic in topics
        for p in _partitions(consumer, topic)
    ]
    pending = {(tp.topic, tp.partition) for tp in assignment}
    keys: list[bytes] = []
    consumer.assign(assignment)
    deadline = time.monotonic() + timeout_s
    try:
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(10_000, timeout=0.5):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard((str(message.topic()), int(message.partition() or 0)))
                        continue
                    raise RuntimeError(f"reading {message.topic()}: {error.str()}")
                keys.append(message.key() or b"")
    finally:
        consumer.close()
    if pending:
        raise RuntimeError(f"could not read to the end of {sorted(pending)}")
    return keys


# -- the latency runs: a sender on a timetable and a reader that notes when scores appear ------


class ScoreReader:
    """Follows a topic read_committed and notes when each key is first seen (time.time()), and
    the record's own timestamp (CreateTime: when the scorer produced it, before the commit)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: dict[bytes, float] = {}
        self.produced: dict[bytes, float] = {}
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench-latency-reader",  # assign only
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,  # the reader itself adds at most this much
            }
        )
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in _partitions(self._consumer, topic)]
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="score-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # The scorer's own batching: consume(1000, 0.05) alone would wait the whole 50 ms
            # whenever fewer than 1000 records are there, adding up to 50 ms to every latency.
            for message in consume_batch(self._consumer, 1000, linger_s=0.0, idle_wait_s=0.05):
                now = time.time()
                key = message.key()
                if message.error() is None and isinstance(key, bytes):
                    self.seen.setdefault(key, now)
                    self.produced.setdefault(key, message.timestamp()[1] / 1000)

    def wait_for(self, keys: Sequence[bytes], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        waiting = 0  # keys before this index were seen: each key is looked up until seen, once
        while time.monotonic() < deadline:
            while waiting < len(keys) and keys[waiting] in self.seen:
                waiting += 1
            if waiting == len(keys):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def send_on_timetable(
    bootstrap: str, topic: str, events: Sequence[DemoEvent], due: Sequence[float]
) -> list[float]:
    """Send event i at time due[i] (wall clock, = its occurred_at), late sends at once. Returns
    how late each send was, in ms: if the sender itself falls behind (this machine is busy), the
    latencies still count it, and this says how much of them it was."""
    # linger.ms 5 is librdkafka's (and, since Kafka 4.0, Java's) default, what an upstream
    # producer runs with; its wait is inside every latency measured (they run from the due
    # time). 1 ms cost the broker, which shares these two cores with the scorer, nearly twice
    # the CPU per event (tiny produce requests): load a real upstream puts on other machines.
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    lateness: list[float] = []
    for index, when in on_schedule(due, time.time, lambda delay: producer.poll(poll_wait_s(delay))):
        event = events[index]
        lateness.append(1000 * (time.time() - when))
        producer.produce(topic, key=event.key, value=event.value)
        producer.poll(0)
    if producer.flush(60):
        raise RuntimeError("latency events undelivered")
    return lateness
