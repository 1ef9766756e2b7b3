"""Scorers as real `loan-scorer run` processes, the signals an orchestrator and a crash send them,
and a broker of the suite's own that may be stopped, restarted and killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import IsolationLevel, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec
from confluent_kafka.cimpl import NewTopic

from tests.conftest import KAFKA_LOCAL
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess


@dataclass
class Broker:
    bootstrap: str
    env: dict[str, str]

    def run(self, command: str) -> None:
        subprocess.run([str(KAFKA_LOCAL), command], check=True, env=self.env)


def create_topics(
    broker: Broker, name: str, partitions: int, input_max_bytes: int | None = None
) -> ScorerTopics:
    topics = ScorerTopics(f"in.{name}", f"out.{name}", f"dlq.{name}")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    config = {"max.message.bytes": str(input_max_bytes)} if input_max_bytes else {}
    new = [
        NewTopic(topics.input, num_partitions=partitions, config=config),
        NewTopic(topics.output, num_partitions=partitions),
        NewTopic(topics.dlq, num_partitions=1),
    ]
    for future in admin.create_topics(new).values():
        future.result(30)
    return topics


def open_transaction_on(broker: Broker, topics: ScorerTopics) -> bool:
    """Whether a transaction holds records on the output or DLQ that are not yet committed or
    aborted: the last stable offset is behind the high watermark somewhere."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    partitions = []
    for topic in (topics.output, topics.dlq):
        metadata = admin.list_topics(topic, timeout=10)
        partitions += [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]

    def ends(level: IsolationLevel) -> dict[tuple[str, int], int]:
        futures = admin.list_offsets(
            {tp: OffsetSpec.latest() for tp in partitions},  # type: ignore[no-untyped-call]
            isolation_level=level,
        )
        return {(tp.topic, tp.partition): f.result(10).offset for tp, f in futures.items()}

    stable = ends(IsolationLevel.READ_COMMITTED)
    high = ends(IsolationLevel.READ_UNCOMMITTED)
    return any(stable[key] < high[key] for key in high)


class Scorer(ScorerProcess):
    """One member of the group, with the signals the fault tests send."""

    def __init__(
        self,
        broker: Broker,
        topics: ScorerTopics,
        group_id: str,
        model_dir: Path,
        log_dir: Path,
        instance: str,
        **env: str,
    ) -> None:
        self.instance = instance
        log = log_dir / f"{instance}-{time.monotonic_ns()}.log"
        super().__init__(
            broker.bootstrap,
            topics,
            group_id,
            model_dir,
            log,
            LOAN_SCORER_INSTANCE_ID=instance,
            **env,
        )

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signum)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def exit_code(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def assert_no_traceback(self) -> None:
        assert "Traceback" not in self.log_file.read_text(errors="replace"), self.logs()


def kill_mid_transaction(scorer: Scorer, broker: Broker, topics: ScorerTopics) -> bool:
    """SIGSTOP the scorer; if it holds an open transaction with records in it, SIGKILL it there
    (a crash after produce and before commit). Otherwise SIGCONT and try again a moment later.
    Returns whether the kill landed mid-transaction (False: killed anyway after many tries)."""
    for _ in range(300):
        scorer.signal(signal.SIGSTOP)
        if open_transaction_on(broker, topics):
            scorer.kill9()
            return True
        scorer.signal(signal.SIGCONT)
        time.sleep(0.003)
    scorer.kill9()
    return False
