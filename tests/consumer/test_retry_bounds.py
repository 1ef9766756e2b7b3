"""Every retry loop has a bound in time, a readiness reason and a metric (issue 23): a failure that
outlasts the first bound is 503 naming its cause whatever the broker statistics say, past the
second the loop stops; a producer replaced too often stops the loop too, and a replaced producer
is freed once its stuck call returns."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import TopicCollection
from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.delivery.exactly_once import ExactlyOnceDelivery
from consumer.kafka.calls import KafkaCalls
from consumer.kafka.errors import ProducerWedgedError, StopScoringError
from consumer.kafka.partition_tracker import PartitionTracker
from consumer.kafka.retry_bound import RetryBound, RetryBoundExceeded
from consumer.runtime.state_keeper import RESTORE_RETRY_S, StateKeeper
from consumer.state.errors import ChangelogError
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness

CAUSE = "produce to loan-scores: UNKNOWN_TOPIC_OR_PART"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _ready() -> Readiness:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    readiness.set_assignment("assigned", 1)
    return readiness


def _sample(metrics: ScorerMetrics, name: str, loop: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"loop": loop})


def test_a_failure_past_the_first_bound_is_unready_naming_its_cause_until_a_success() -> None:
    clock, readiness, metrics = Clock(), _ready(), ScorerMetrics(CollectorRegistry())
    bound = RetryBound(
        "batch",
        unready_after_s=60,
        exit_after_s=300,
        readiness=readiness,
        metrics=metrics,
        clock=clock,
    )
    bound.failed(CAUSE)
    clock.now += 59
    bound.failed(CAUSE)
    assert readiness.snapshot().ready  # a short outage is the broker's own reason to give
    assert _sample(metrics, "loan_scorer_retry_stalled", "batch") == 0

    clock.now += 2
    bound.failed(CAUSE)
    readiness.set_broker_reachable(True)  # the statistics callback: a connection is up

    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert snapshot.reasons() == [f"batch failing for 61 s: {CAUSE}"]
    assert _sample(metrics, "loan_scorer_retry_stalled", "batch") == 1
    assert _sample(metrics, "loan_scorer_retry_failing_seconds", "batch") == 61

    bound.succeeded()
    assert readiness.snapshot().ready
    assert _sample(metrics, "loan_scorer_retry_stalled", "batch") == 0
    assert _sample(metrics, "loan_scorer_retry_failing_seconds", "batch") == 0


def test_a_failure_past_the_second_bound_stops_the_loop_with_its_cause() -> None:
    clock, readiness = Clock(), _ready()
    bound = RetryBound(
        "restore",
        unready_after_s=60,
        exit_after_s=300,
        readiness=readiness,
        metrics=ScorerMetrics(CollectorRegistry()),
        clock=clock,
    )
    bound.failed("changelog ids[3]: nothing read in 30 s")
    clock.now += 299
    bound.failed("changelog ids[3]: nothing read in 30 s")
    clock.now += 1
    with pytest.raises(RetryBoundExceeded, match=r"restore failing for 300 s .*ids\[3\]"):
        bound.failed("changelog ids[3]: nothing read in 30 s")
    assert issubclass(RetryBoundExceeded, StopScoringError)  # the service exits 1 on it


def test_a_success_starts_the_count_again() -> None:
    clock, readiness = Clock(), _ready()
    bound = RetryBound(
        "batch",
        unready_after_s=60,
        exit_after_s=300,
        readiness=readiness,
        metrics=ScorerMetrics(CollectorRegistry()),
        clock=clock,
    )
    bound.failed(CAUSE)
    clock.now += 250
    bound.succeeded()
    bound.failed(CAUSE)
    clock.now += 100
    bound.failed(CAUSE)  # 100 s of this streak, not 350: no stop
    assert bound.failing_for_s == 100


class FailingStates:
    """A restore that fails `failures` times, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[list[int]] = []
        self.partitions: list[int] = []

    def restore(self, partitions: Iterable[int]) -> None:
        wanted = list(partitions)
        self.attempts.append(wanted)
        if self.failures:
            self.failures -= 1
            raise ChangelogError("changelog ids[0]: nothing read in 30 s")
        self.partitions.extend(wanted)


def test_a_restore_that_fails_is_tried_again_within_its_bound_without_waiting_for_a_record() -> (
    None
):
    clock, readiness = Clock(), _ready()
    bound = RetryBound(
        "restore",
        unready_after_s=60,
        exit_after_s=300,
        readiness=readiness,
        metrics=ScorerMetrics(CollectorRegistry()),
        clock=clock,
    )
    states = FailingStates(failures=2)
    keeper = StateKeeper(
        states,  # type: ignore[arg-type]
        ScorerMetrics(CollectorRegistry()),
        "apps",
        bound,
        clock=clock,
    )
    keeper.assigned([0])
    assigned = {("apps", 0)}

    keeper.restore_assigned(assigned)
    keeper.restore_assigned(assigned)  # within the pause: not tried again yet
    assert states.attempts == [[0]]
    clock.now += RESTORE_RETRY_S + 61
    keeper.restore_assigned(assigned)
    assert states.attempts == [[0], [0]]
    assert readiness.snapshot().reasons() == [
        "restore failing for 63 s: state restore: changelog ids[0]: nothing read in 30 s"
    ]

    clock.now += RESTORE_RETRY_S
    keeper.restore_assigned(assigned)
    assert states.partitions == [0]
    assert readiness.snapshot().ready


def test_a_restore_failing_past_the_second_bound_stops_the_loop() -> None:
    clock = Clock()
    bound = RetryBound(
        "restore",
        unready_after_s=10,
        exit_after_s=20,
        readiness=_ready(),
        metrics=ScorerMetrics(CollectorRegistry()),
        clock=clock,
    )
    keeper = StateKeeper(
        FailingStates(failures=99),  # type: ignore[arg-type]
        ScorerMetrics(CollectorRegistry()),
        "apps",
        bound,
        clock=clock,
    )
    keeper.assigned([0])
    keeper.restore_assigned({("apps", 0)})
    clock.now += 21
    with pytest.raises(RetryBoundExceeded, match="restore failing for 21 s"):
        keeper.restore_assigned({("apps", 0)})


class Stuck:
    """A producer whose call blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def commit_transaction(self, _timeout: float) -> None:
        self.release.wait(10)


def test_a_replaced_producer_and_its_stuck_helper_thread_are_freed_once_the_call_returns() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    calls = KafkaCalls(metrics, Readiness(), call_timeout_s=0.01, wedge_grace_s=0.05)
    producer = Stuck()
    release = producer.release
    gone = weakref.ref(producer)
    with pytest.raises(ProducerWedgedError):
        calls.in_transaction("commit_transaction", producer.commit_transaction, 1e12)

    calls.abandon(producer)
    del producer
    gc.collect()
    assert gone() is not None  # the stuck call still holds it: destroying it would block
    assert calls.abandoned() == 1
    assert metrics.registry.get_sample_value("loan_scorer_abandoned_producers") == 1

    release.set()  # the call returns at last
    for _ in range(100):
        if calls.abandoned() == 0 and gone() is None:
            break
        threading.Event().wait(0.02)
        gc.collect()
    assert calls.abandoned() == 0
    assert gone() is None
    assert metrics.registry.get_sample_value("loan_scorer_abandoned_producers") == 0
    assert not [t for t in threading.enumerate() if t.name == "kafka-calls" and not t.daemon]


def test_producer_replacements_past_the_cap_within_the_window_stop_the_loop() -> None:
    metrics = ScorerMetrics(CollectorRegistry())
    settings = Settings(
        kafka_bootstrap_servers="127.0.0.1:1",  # nothing listens; the stop below ends each wait
        producer_replacements_max=2,
        producer_replacements_window_s=600,
    )
    delivery = ExactlyOnceDelivery(
        settings, metrics, Readiness(), PartitionTracker(), on_client_error=lambda _error: None
    )
    stop = threading.Event()
    stop.set()
    delivery._stop, delivery._liveness = stop, Liveness()
    wedged = ProducerWedgedError("commit_transaction", 35)
    try:
        assert delivery._replace_producer(wedged)
        assert delivery._replace_producer(wedged, reason="fenced")
        with pytest.raises(StopScoringError, match="replaced 2 times within 600 s"):
            delivery._replace_producer(wedged)
    finally:
        delivery.close()
    counted = {
        reason: metrics.registry.get_sample_value(
            "loan_scorer_producer_replacements_total", {"reason": reason}
        )
        for reason in ("wedged", "fenced")
    }
    assert counted == {"wedged": 1, "fenced": 1}


class _Topic:
    def __init__(self, error: object = None) -> None:
        self.error = error
        self.partitions = {0: object()}


class _Listing:
    def __init__(self, topics: dict[str, _Topic]) -> None:
        self.topics = topics


class ListingProducer:
    def __init__(self, topics: dict[str, _Topic]) -> None:
        self._topics = topics

    def list_topics(self, *, timeout: float) -> _Listing:
        return _Listing(self._topics)


def test_a_failed_batch_names_the_topics_the_cluster_says_are_gone_or_refused() -> None:
    """A commit that timed out names no topic: the cluster's metadata does (issue 23)."""
    from confluent_kafka import KafkaError

    from consumer.delivery.at_least_once import AtLeastOnceDelivery
    from consumer.delivery.batch_writer import BatchWriter

    metrics = ScorerMetrics(CollectorRegistry())
    delivery = AtLeastOnceDelivery(
        Settings(output_topic="scores", dlq_topic="dead", delivery="at-least-once"),
        metrics,
        Readiness(),
        PartitionTracker(),
        on_client_error=lambda _error: None,
    )
    producer = ListingProducer(
        {"dead": _Topic(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), "other": _Topic()}
    )
    delivery._producer = producer  # type: ignore[assignment]
    writer = BatchWriter(producer, dlq_topic="dead", metrics=metrics)  # type: ignore[arg-type]
    writer.topics_written = {"scores", "dead"}

    assert delivery._diagnosed("commit_transaction: _TIMED_OUT", writer) == (
        "commit_transaction: _TIMED_OUT; dead-letter topic 'dead': TOPIC_AUTHORIZATION_FAILED; "
        "output topic 'scores' does not exist"
    )
    writer.topics_written = {"other"}
    assert delivery._diagnosed("x", writer) == "x"


class _Described:
    def __init__(self, authorized: list[object] | None) -> None:
        self.authorized_operations = authorized


class DescribingAdmin:
    """What the broker says we may do on each topic; a topic missing here cannot be described."""

    def __init__(self, authorized: dict[str, list[object] | None]) -> None:
        self._authorized = authorized
        self.described: list[str] = []

    def describe_topics(self, topics: TopicCollection, **kwargs: Any) -> dict[str, Future[Any]]:
        from confluent_kafka import KafkaError, KafkaException

        assert kwargs["include_authorized_operations"] is True
        futures: dict[str, Future[Any]] = {}
        for name in topics.topic_names:
            self.described.append(name)
            future: Future[Any] = Future()
            if name in self._authorized:
                future.set_result(_Described(self._authorized[name]))
            else:
                future.set_exception(
                    KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
                )
            futures[name] = future
        return futures


def test_a_refused_commit_names_the_topic_its_acls_do_not_let_us_write() -> None:
    """A WRITE grant removed fails the transaction at AddPartitionsToTxn: the commit says
    TOPIC_AUTHORIZATION_FAILED and no delivery report names the topic (seen on the real broker,
    tests/integration/test_acl_bounds.py); the topics' authorised operations do (issue 23)."""
    from confluent_kafka.admin._acl import AclOperation

    from consumer.delivery.batch_writer import BatchWriter

    metrics = ScorerMetrics(CollectorRegistry())
    delivery = ExactlyOnceDelivery(
        Settings(output_topic="scores", dlq_topic="dead", group_id="g"),
        metrics,
        Readiness(),
        PartitionTracker(),
        on_client_error=lambda _error: None,
    )
    producer = ListingProducer(
        {"scores": _Topic(), "dead": _Topic(), "g-scored-ids-changelog": _Topic()}
    )
    delivery._producer = producer  # type: ignore[assignment]
    admin = DescribingAdmin(
        {
            "scores": [AclOperation.DESCRIBE, AclOperation.READ],
            "dead": [AclOperation.WRITE, AclOperation.DESCRIBE],
            "g-scored-ids-changelog": [AclOperation.ALL],
        }
    )
    delivery._describer = lambda: admin  # type: ignore[method-assign]  # a seam for the test
    writer = BatchWriter(producer, dlq_topic="dead", metrics=metrics)  # type: ignore[arg-type]
    writer.topics_written = {"scores", "dead", "g-scored-ids-changelog"}

    assert delivery._diagnosed("commit_transaction: TOPIC_AUTHORIZATION_FAILED", writer) == (
        "commit_transaction: TOPIC_AUTHORIZATION_FAILED; "
        "output topic 'scores': WRITE not authorised"
    )
    # Another failure asks nothing more: a timeout is no ACL's doing.
    admin.described.clear()
    assert delivery._diagnosed("commit_transaction: _TIMED_OUT", writer) == (
        "commit_transaction: _TIMED_OUT"
    )
    assert admin.described == []


def test_topics_refusing_writes_skips_what_cannot_be_described_and_a_silent_cluster() -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin._acl import AclOperation

    from consumer.kafka.topics import may_write, topics_refusing_writes

    assert may_write([AclOperation.WRITE])
    assert may_write([AclOperation.ALL])
    assert not may_write([AclOperation.READ, AclOperation.DESCRIBE])
    assert not may_write([])

    admin = DescribingAdmin({"a": [AclOperation.READ], "b": [AclOperation.WRITE], "c": None})
    # "gone" cannot be described: the metadata listing reports it, not this; "c"'s broker did
    # not report what we may do, which is not a refusal.
    assert topics_refusing_writes(admin, ["gone", "b", "a", "c", "a"], 1.0) == ["a"]
    assert topics_refusing_writes(admin, [], 1.0) == []

    class Silent:
        def describe_topics(self, topics: TopicCollection, **kwargs: Any) -> dict[str, Future[Any]]:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    assert topics_refusing_writes(Silent(), ["a"], 1.0) == []


def test_a_changelog_error_reads_as_its_name_and_message_not_its_repr() -> None:
    from confluent_kafka import KafkaError, KafkaException

    from consumer.kafka.changelog import error_text

    refused = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Fetch from broker 1 failed")
    assert error_text(refused) == "TOPIC_AUTHORIZATION_FAILED: Fetch from broker 1 failed"
    assert error_text(KafkaException(refused)) == (
        "TOPIC_AUTHORIZATION_FAILED: Fetch from broker 1 failed"
    )
    assert error_text("nothing read in 30 s") == "nothing read in 30 s"
