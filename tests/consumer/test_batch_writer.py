"""The batch writer on a fake producer: a record the broker keeps refusing becomes a truncated dead
letter after bounded attempts, a transient or topic-wide failure never does, and a score replaced
that way leaves the changelog (issue 22, 6b: its id committed there meant an upstream retry of the
event was skipped as a duplicate of a score nobody received)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.delivery.batch_writer import BatchWriter
from consumer.kafka.errors import BatchAborted, UnwritableRecordError
from consumer.pipeline.dedup import changelog_batch_value
from consumer.records import BatchOutcome, OutboundRecord
from consumer.runtime.service import new_metrics
from consumer.state.scored_id import ScoredId
from schemas.dead_letter import HEADER_REASON
from tests.consumer.test_pipeline import FakeMessage

Callback = Callable[[KafkaError | None, object], None]


@dataclass
class FakeProducer:
    """Keeps what is produced; `deliver` reports each delivery, failing the topics in `refuse`
    with its error; `produce` raises for the topics in `refuse_at_once`."""

    refuse: dict[str, int] = field(default_factory=dict)
    refuse_at_once: dict[str, int] = field(default_factory=dict)
    produced: list[OutboundRecord] = field(default_factory=list)
    _pending: list[tuple[str, Callback]] = field(default_factory=list)

    def produce(self, topic: str, **kwargs: object) -> None:
        if topic in self.refuse_at_once:
            raise KafkaException(KafkaError(self.refuse_at_once[topic]))
        value, key, headers = kwargs["value"], kwargs["key"], kwargs["headers"]
        assert isinstance(value, bytes | None)
        assert isinstance(key, bytes | None)
        self.produced.append(
            OutboundRecord(topic=topic, key=key, value=value, headers=headers)  # type: ignore[arg-type]
        )
        callback = kwargs["on_delivery"]
        assert callable(callback)
        self._pending.append((topic, callback))

    def deliver(self) -> None:
        for topic, callback in self._pending:
            code = self.refuse.get(topic)
            callback(KafkaError(code) if code is not None else None, None)
        self._pending.clear()

    def topics(self) -> list[str]:
        return [record.topic for record in self.produced]

    def poll(self, timeout: float) -> int:
        return 0


def _scored(offset: int) -> ScoredId:
    return ScoredId(1_700_000_000.0, bytes(16), offset)


def _batch() -> tuple[list[FakeMessage], BatchOutcome]:
    """Two scored events on partition 2, their ids in one changelog record."""
    messages = [FakeMessage(b"a" * 5000, off=10), FakeMessage(b"{}", off=11)]
    outcome = BatchOutcome(
        records=[
            OutboundRecord(topic="out", key=b"a", value=b"score-a", event_id="ev-a"),
            OutboundRecord(topic="out", key=b"b", value=b"score-b", event_id="ev-b"),
        ],
        changelog=[
            OutboundRecord(
                topic="ids",
                key=b"2@10",
                value=changelog_batch_value([("ev-a", _scored(10)), ("ev-b", _scored(11))]),
                partition=2,
            )
        ],
    )
    return messages, outcome


def _writer(producer: FakeProducer) -> BatchWriter:
    return BatchWriter(
        producer,  # type: ignore[arg-type]
        dlq_topic="dlq",
        metrics=new_metrics(),
        clock=lambda: datetime(2026, 12, 6, tzinfo=UTC),
    )


def _ids(record: OutboundRecord) -> list[str]:
    assert record.value is not None
    return [entry[0] for entry in orjson.loads(record.value)["ids"]]


def test_a_score_refused_at_produce_is_dead_lettered_and_its_id_left_out_of_the_changelog() -> None:
    producer = FakeProducer()
    writer = _writer(producer)
    messages, outcome = _batch()

    def produce_refusing_a(topic: str, **kwargs: object) -> None:
        if kwargs.get("key") == b"a" and topic == "out":
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        FakeProducer.produce(producer, topic, **kwargs)

    producer.produce = produce_refusing_a  # type: ignore[method-assign]

    writer.write(messages, outcome, deadline=float("inf"))

    assert producer.topics() == ["dlq", "out", "ids"]
    assert _ids(producer.produced[2]) == ["ev-b"]
    assert writer.replaced_scores == {(2, "ev-a")}
    headers = dict(producer.produced[0].headers or [])
    assert headers[HEADER_REASON] == b"unwritable"


def test_a_score_refused_on_delivery_is_dead_lettered_on_the_attempt_after_the_last() -> None:
    producer = FakeProducer(refuse={"out": KafkaError.MSG_SIZE_TOO_LARGE})
    writer = _writer(producer)
    messages, outcome = _batch()
    for _attempt in range(3):  # each attempt fails (the delivery mode aborts and retries)
        writer.write(messages, outcome, deadline=float("inf"))
        producer.deliver()
        assert writer.failed_deliveries == 2
        assert writer.replaced_scores == set()
    producer.produced.clear()

    writer.write(messages, outcome, deadline=float("inf"))

    assert producer.topics() == ["dlq", "dlq"]  # both scores replaced: no id left to write
    assert writer.replaced_scores == {(2, "ev-a"), (2, "ev-b")}


def test_the_changelog_keeps_the_ids_whose_scores_were_written() -> None:
    producer = FakeProducer()
    writer = _writer(producer)
    messages, outcome = _batch()

    writer.write(messages, outcome, deadline=float("inf"))

    assert producer.topics() == ["out", "out", "ids"]
    assert _ids(producer.produced[2]) == ["ev-a", "ev-b"]
    assert writer.replaced_scores == set()


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
    ],
)
def test_a_topic_wide_or_transient_failure_never_dead_letters_a_score(code: int) -> None:
    """A deleted output topic or an ACL is the topic's fault, not the record's: the loop's retry
    bound stops the process (kafka/retry_bound.py) rather than dead-letter every score."""
    producer = FakeProducer(refuse={"out": code})
    writer = _writer(producer)
    messages, outcome = _batch()
    for _attempt in range(6):
        writer.write(messages, outcome, deadline=float("inf"))
        producer.deliver()
    assert "dlq" not in producer.topics()
    assert writer.last_delivery_error == f"out: {KafkaError(code).name()}"


def test_a_truncated_dead_letter_refused_every_time_stops_the_loop_naming_the_record() -> None:
    producer = FakeProducer(refuse={"dlq": KafkaError.MSG_SIZE_TOO_LARGE})
    writer = _writer(producer)
    messages, outcome = _batch()

    def produce_refusing_a(topic: str, **kwargs: object) -> None:
        if kwargs.get("key") == b"a" and topic == "out":
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        FakeProducer.produce(producer, topic, **kwargs)

    producer.produce = produce_refusing_a  # type: ignore[method-assign]
    for _attempt in range(3):
        writer.write(messages, outcome, deadline=float("inf"))
        producer.deliver()

    with pytest.raises(UnwritableRecordError) as stopped:
        writer.write(messages, outcome, deadline=float("inf"))
    assert (stopped.value.topic, stopped.value.partition, stopped.value.offset) == (
        "loan-applications",
        2,
        10,
    )


def test_a_committed_batch_forgets_its_refusals() -> None:
    producer = FakeProducer(refuse={"out": KafkaError.MSG_SIZE_TOO_LARGE})
    writer = _writer(producer)
    messages, outcome = _batch()
    for _attempt in range(2):
        writer.write(messages, outcome, deadline=float("inf"))
        producer.deliver()
    writer.forget(messages)
    writer.write(messages, outcome, deadline=float("inf"))
    producer.deliver()
    producer.produced.clear()

    writer.write(messages, outcome, deadline=float("inf"))

    assert "dlq" not in producer.topics()  # two refusals forgotten, one since: not three yet


def test_a_local_error_that_is_not_the_records_aborts_the_batch() -> None:
    producer = FakeProducer(refuse_at_once={"out": KafkaError._UNKNOWN_TOPIC})
    writer = _writer(producer)
    messages, outcome = _batch()

    with pytest.raises(BatchAborted):
        writer.write(messages, outcome, deadline=float("inf"))
    assert "dlq" not in producer.topics()


def test_one_output_per_kept_input_or_the_batch_is_refused() -> None:
    writer = _writer(FakeProducer())
    messages, outcome = _batch()
    with pytest.raises(ValueError, match="1 outputs for 2 inputs"):
        writer.write(messages, BatchOutcome(records=outcome.records[:1]), deadline=float("inf"))


def test_a_truncated_dead_letter_carries_the_refused_scores_trace_context_only() -> None:
    """The input's other headers are dropped (they may be what made it too large), but the
    trace goes on: the child `traceparent` the score carried names the dead letter's span too."""
    producer = FakeProducer(refuse_at_once={"out": KafkaError.MSG_SIZE_TOO_LARGE})
    child = b"00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01"
    messages = [FakeMessage(b"{}", off=10, hdrs=[("big", b"x" * 100), ("traceparent", b"up")])]
    outcome = BatchOutcome(
        records=[
            OutboundRecord(
                topic="out",
                key=b"a",
                value=b"score-a",
                headers=[("schema", b"1"), ("traceparent", child), ("tracestate", b"v=1")],
                event_id="ev-a",
            )
        ]
    )

    _writer(producer).write(messages, outcome, deadline=float("inf"), changelog=False)

    [letter] = producer.produced
    assert letter.topic == "dlq"
    names = [name for name, _ in letter.headers or []]
    assert "big" not in names
    assert "schema" not in names
    assert [value for name, value in letter.headers or [] if name.startswith("trace")] == [
        child,
        b"v=1",
    ]
