"""The loop's bounds under faults that come from the records themselves or from the client, on the
real broker: a record the broker refuses never stalls a partition, a failed rewind never lets
offsets advance, an open transaction is aborted on the way out, re-reads are not counted twice."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.kafka.errors import RewindFailedError, UnwritableRecordError
from consumer.tools.demo_events import demo_events
from schemas.dead_letter import (
    HEADER_ORIGINAL_SHA256,
    HEADER_ORIGINAL_SIZE,
    parse_dead_letter_headers,
)
from schemas.decode import decode_loan_scored
from schemas.errors import DeadLetterReason
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import (
    ScorerTopics,
    error_stopping_the_loop,
    make_topics,
    running_scorer,
    scorer_settings,
)
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

BIG_TOPIC_BYTES = 8 * 1024 * 1024


@pytest.fixture
def topic_with_config(
    kafka_admin: AdminClient, unique_name: Callable[[str], str]
) -> Iterator[Callable[..., str]]:
    """Topics created with broker-side settings (e.g. a small `max.message.bytes`)."""
    created: list[str] = []

    def make(prefix: str, partitions: int = 1, **config: str) -> str:
        name = unique_name(prefix)
        new = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)
        kafka_admin.create_topics([new], operation_timeout=30)[name].result(timeout=60)
        created.append(name)
        return name

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=60)


def _topics(
    create_topic: TopicFactory, topic_with_config: Callable[..., str], dlq_max_bytes: int
) -> ScorerTopics:
    return ScorerTopics(
        input=topic_with_config("in", 1, **{"max.message.bytes": str(BIG_TOPIC_BYTES)}),
        output=create_topic("out", 1),
        dlq=topic_with_config("dlq", 1, **{"max.message.bytes": str(dlq_max_bytes)}),
    )


def _produce_big(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": BIG_TOPIC_BYTES})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(60) == 0


def _committed(bootstrap: str, group_id: str, topic: str, partition: int = 0) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    try:
        [position] = consumer.committed([TopicPartition(topic, partition)], timeout=30)
        return int(position.offset)
    finally:
        consumer.close()


def _three_valid_around(poison: bytes) -> list[tuple[bytes, bytes]]:
    valid = [(e.key, e.value) for e in demo_events(3)]
    return [valid[0], (b"poison", poison), valid[1], valid[2]]


@pytest.mark.parametrize("delivery", ["exactly-once", "at-least-once"])
def test_a_dead_letter_the_dlq_topic_refuses_becomes_a_truncated_one_and_the_partition_flows(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    topic_with_config: Callable[..., str],
    group_id: str,
    model_dir: Path,
    delivery: str,
) -> None:
    """Broker-side rejection: the DLQ topic takes at most 16 KiB; the poison input is 64 KiB of
    random bytes, so its full dead-letter copy is refused by the broker on every attempt."""
    topics = _topics(create_topic, topic_with_config, dlq_max_bytes=16 * 1024)
    poison = os.urandom(64 * 1024)
    records = _three_valid_around(poison)
    _produce_big(kafka_bootstrap, topics.input, records)

    settings = scorer_settings(
        kafka_bootstrap, topics, group_id, model_dir, delivery=delivery, kafka_timeout_s=10
    )
    with running_scorer(settings) as scorer:
        scores = consume(kafka_bootstrap, topics.output, expected=3, group_id=group_id + "-s")
        dead = consume(kafka_bootstrap, topics.dlq, expected=1, group_id=group_id + "-d")

    assert {r.key for r in scores} == {records[i][0] for i in (0, 2, 3)}
    # At-least-once re-sends the valid neighbours with every refused attempt (3, then the
    # truncated copy): their ids reach the changelog only once every score of the batch is
    # delivered (issue 22: an id written beside a score that failed lost that score), so the
    # copies are scored again, the at-least-once cost. Exactly-once sends each once.
    if delivery == "exactly-once":
        assert len(scores) == 3
    else:
        assert len(scores) >= 3
    [letter] = dead
    headers = dict(letter.headers)
    assert letter.value == poison[: len(letter.value or b"")]
    assert len(letter.value or b"") < 16 * 1024
    assert headers[HEADER_ORIGINAL_SIZE] == str(len(poison)).encode()
    assert headers[HEADER_ORIGINAL_SHA256] == hashlib.sha256(poison).hexdigest().encode()
    context = parse_dead_letter_headers(list(letter.headers))
    assert (context.topic, context.partition, context.offset) == (topics.input, 0, 1)
    assert context.reason is DeadLetterReason.UNWRITABLE
    assert scorer.counter("loan_scorer_undeliverable_records_total") == 1
    assert _committed(kafka_bootstrap, group_id, topics.input) == 4


def test_an_input_larger_than_the_clients_message_max_bytes_is_dead_lettered_truncated(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    topic_with_config: Callable[..., str],
    group_id: str,
    model_dir: Path,
) -> None:
    """Client-side rejection: a 5 MB value exceeds librdkafka's `message.max.bytes` (1 MB), so
    `produce()` itself raises for its dead-letter copy."""
    topics = _topics(create_topic, topic_with_config, dlq_max_bytes=BIG_TOPIC_BYTES)
    poison = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    records = _three_valid_around(poison)
    _produce_big(kafka_bootstrap, topics.input, records)

    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir)
    with running_scorer(settings):
        scores = consume(kafka_bootstrap, topics.output, expected=3, group_id=group_id + "-s")
        dead = consume(kafka_bootstrap, topics.dlq, expected=1, group_id=group_id + "-d")

    assert len(scores) == 3
    [letter] = dead
    assert dict(letter.headers)[HEADER_ORIGINAL_SIZE] == str(len(poison)).encode()
    assert parse_dead_letter_headers(list(letter.headers)).reason is DeadLetterReason.UNWRITABLE


@pytest.mark.parametrize("delivery", ["exactly-once", "at-least-once"])
def test_a_record_whose_truncated_dead_letter_is_refused_too_stops_the_loop_naming_it(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    topic_with_config: Callable[..., str],
    group_id: str,
    model_dir: Path,
    delivery: str,
) -> None:
    """The DLQ topic takes at most 256 bytes: not even the truncated dead letter fits. The loop
    stops with an error naming the record's position, commits nothing past it, and leaves no
    transaction open (a read_committed reader is not held up by it)."""
    topics = _topics(create_topic, topic_with_config, dlq_max_bytes=256)
    records = _three_valid_around(os.urandom(4096))
    _produce_big(kafka_bootstrap, topics.input, records)

    settings = scorer_settings(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        delivery=delivery,
        kafka_timeout_s=10,
        transaction_timeout_ms=120_000,
    )
    stopped = error_stopping_the_loop(settings)
    assert isinstance(stopped, UnwritableRecordError), stopped
    assert (stopped.topic, stopped.partition, stopped.offset) == (topics.input, 0, 1)
    assert f"{topics.input}[0]@1" in str(stopped)
    assert _committed(kafka_bootstrap, group_id, topics.input) <= 1
    # Nothing of the failed batch is visible, and no open transaction holds readers back:
    produce(kafka_bootstrap, topics.output, [(b"marker", b"{}")])
    seen = consume(
        kafka_bootstrap, topics.output, expected=1, group_id=group_id + "-m", timeout_s=30
    )
    assert b"marker" in {r.key for r in seen}
    if delivery == "exactly-once":
        assert [r.key for r in seen] == [b"marker"], "a record of the failed batch is visible"


def test_a_failed_rewind_stops_the_loop_and_no_offset_moves_past_the_aborted_batch(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    topics = make_topics(create_topic, partitions=1)
    events = list(demo_events(300))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    injected: list[str] = []

    def abort_then_fail_rewind(stage: str) -> None:
        if stage == "before_commit" and not injected:
            injected.append(stage)
            raise KafkaException(
                KafkaError(KafkaError._STATE, "injected abortable failure", txn_requires_abort=True)
            )
        if stage == "rewind" and injected == ["before_commit"]:
            injected.append(stage)
            raise KafkaException(KafkaError(KafkaError._STATE, "injected seek failure"))

    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir, batch_max_events=100)
    stopped = error_stopping_the_loop(settings, fault_injector=abort_then_fail_rewind)
    assert isinstance(stopped, RewindFailedError), stopped
    assert injected == ["before_commit", "rewind"]

    with running_scorer(settings):  # the restart resumes from the committed offsets
        scores = consume(kafka_bootstrap, topics.output, expected=300, group_id=group_id + "-r")
    ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
    assert set(ids) == {e.key.decode() for e in events}
    assert max(ids.values()) == 1
