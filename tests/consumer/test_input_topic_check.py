"""The input-topic readiness check: the decision on metadata, and the real broker's answer."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaError
from confluent_kafka.admin._metadata import PartitionMetadata, TopicMetadata

from consumer.config.settings import Settings
from consumer.kafka.topic_check import InputTopicCheck
from consumer.kafka.topics import topic_problem
from consumer.telemetry.readiness import Readiness
from tests.conftest import TopicFactory


def _topic(name: str, partitions: int = 1, error: KafkaError | None = None) -> TopicMetadata:
    topic = TopicMetadata()
    topic.topic = name
    topic.error = error
    topic.partitions = {i: PartitionMetadata() for i in range(partitions)}
    return topic


def test_a_listed_topic_with_partitions_is_fine() -> None:
    assert topic_problem(_topic("apps", 3), "apps") is None


def test_an_absent_topic_is_named() -> None:
    problem = topic_problem(None, "apps")
    assert problem == "input topic 'apps' does not exist"


def test_the_sentence_names_the_role_of_the_topic() -> None:
    problem = topic_problem(None, "scores", role="output")
    assert problem == "output topic 'scores' does not exist"


def test_a_topic_with_an_error_names_the_error() -> None:
    denied = _topic("apps", error=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    problem = topic_problem(denied, "apps")
    assert problem == "input topic 'apps': TOPIC_AUTHORIZATION_FAILED"


def test_a_topic_without_partitions_is_named() -> None:
    assert topic_problem(_topic("apps", 0), "apps") == "input topic 'apps' has no partitions"


def test_the_real_broker_says_missing_then_present(
    kafka_bootstrap: str, create_topic: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    missing = unique_name("absent")
    check = InputTopicCheck(
        Settings(kafka_bootstrap_servers=kafka_bootstrap, input_topic=missing), readiness
    )
    assert check.check_once() == f"input topic {missing!r} does not exist"
    assert readiness.snapshot().reasons() == [f"input topic {missing!r} does not exist"]

    present = create_topic("apps", partitions=2)
    check = InputTopicCheck(
        Settings(kafka_bootstrap_servers=kafka_bootstrap, input_topic=present), readiness
    )
    deadline = time.monotonic() + 30  # a new topic reaches every broker's metadata shortly after
    while check.check_once() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert check.check_once() is None
    assert readiness.snapshot().ready
