"""Topic metadata, asked one way by everything that asks: for all topics, never naming the one
wanted (naming a missing topic makes an auto-creating broker create it)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin._metadata import ClusterMetadata, PartitionMetadata, TopicMetadata

from consumer.config.settings import Settings
from consumer.kafka.topic_check import InputTopicCheck
from consumer.kafka.topics import POLL_INTERVAL_S, partition_count, topic_metadata
from consumer.telemetry.readiness import Readiness
from consumer.tools.tail import TopicMissingError, _require_topic


def _topic(name: str, partitions: int = 1, error: KafkaError | None = None) -> TopicMetadata:
    topic = TopicMetadata()
    topic.topic = name
    topic.error = error
    topic.partitions = {i: PartitionMetadata() for i in range(partitions)}
    return topic


class ScriptedCluster:
    """A client whose metadata answers are scripted, one per request (the last one repeats);
    it records what each request named, so a test can see that none named a topic."""

    def __init__(self, *answers: list[TopicMetadata] | KafkaError) -> None:
        self._answers = list(answers)
        self.named: list[str | None] = []
        self.timeouts: list[float] = []

    def list_topics(self, topic: str | None = None, *, timeout: float) -> ClusterMetadata:
        self.named.append(topic)
        self.timeouts.append(timeout)
        answer = self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]
        if isinstance(answer, KafkaError):
            raise KafkaException(answer)
        metadata = ClusterMetadata()
        metadata.topics = {str(found.topic): found for found in answer}
        return metadata


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


TIMED_OUT = KafkaError(KafkaError._TIMED_OUT, "Failed to get metadata: Local: Timed out")


def test_the_topic_is_picked_out_of_a_listing_of_all_topics() -> None:
    apps = _topic("apps", 3)
    cluster = ScriptedCluster([_topic("other"), apps])
    assert topic_metadata(cluster, "apps", 7.5) is apps
    assert topic_metadata(cluster, "missing", 7.5) is None
    assert cluster.named == [None, None]
    assert cluster.timeouts == [7.5, 7.5]


def test_a_cluster_that_does_not_answer_raises_the_clients_error() -> None:
    with pytest.raises(KafkaException):
        topic_metadata(ScriptedCluster(TIMED_OUT), "apps", 1.0)


def test_the_partition_count_waits_for_a_new_topic_to_show_in_the_metadata() -> None:
    time = FakeTime()
    cluster = ScriptedCluster([], [_topic("log", 0)], [_topic("log", 4)])
    count = partition_count(cluster, "log", wait_s=5.0, clock=time.clock, sleep=time.sleep)
    assert count == 4
    assert time.sleeps == [POLL_INTERVAL_S, POLL_INTERVAL_S]
    assert cluster.named == [None, None, None]
    assert cluster.timeouts == [30.0, 30.0, 30.0]


def test_the_partition_count_of_a_topic_that_never_shows_is_none_after_the_wait() -> None:
    time = FakeTime()
    cluster = ScriptedCluster([_topic("other", 2)])
    count = partition_count(cluster, "log", wait_s=1.0, clock=time.clock, sleep=time.sleep)
    assert count is None
    assert len(cluster.named) == 6  # at 100.0, 100.2, ... 101.0: the deadline, then no more
    assert set(cluster.named) == {None}


def test_without_a_wait_the_partition_count_is_asked_once() -> None:
    time = FakeTime()
    denied = _topic("log", 2, error=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    cluster = ScriptedCluster([denied])
    assert partition_count(cluster, "log", wait_s=0.0, clock=time.clock, sleep=time.sleep) is None
    assert len(cluster.named) == 1
    assert time.sleeps == []


def test_tail_names_a_missing_topic_by_its_role_without_naming_it_to_the_broker() -> None:
    cluster = ScriptedCluster([_topic("scores", 1)])
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1", kafka_timeout_s=4.0)
    with pytest.raises(TopicMissingError, match="dead-letter topic 'dlq' does not exist"):
        _require_topic(cluster, "dlq", "dead-letter", settings)  # type: ignore[arg-type]
    _require_topic(cluster, "scores", "output", settings)  # type: ignore[arg-type]
    assert cluster.named == [None, None]
    assert cluster.timeouts == [4.0, 4.0]


def test_tail_says_when_the_topics_cannot_be_listed() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    with pytest.raises(TopicMissingError, match=r"cannot list the topics: .*Timed out"):
        _require_topic(ScriptedCluster(TIMED_OUT), "scores", "output", settings)  # type: ignore[arg-type]


def test_the_input_topic_check_reports_a_missing_topic_and_ignores_a_silent_cluster() -> None:
    readiness = Readiness()
    check = InputTopicCheck(
        Settings(kafka_bootstrap_servers="127.0.0.1:1", input_topic="apps"), readiness
    )
    cluster = ScriptedCluster([_topic("other")], TIMED_OUT, [_topic("apps", 2)])
    check._admin = cluster  # type: ignore[assignment]
    assert check.check_once() == "input topic 'apps' does not exist"
    assert check.check_once() is None  # no answer: nothing changes here
    assert readiness.snapshot().input_topic_problem == "input topic 'apps' does not exist"
    assert check.check_once() is None
    assert readiness.snapshot().input_topic_problem is None
    assert cluster.named == [None, None, None]
