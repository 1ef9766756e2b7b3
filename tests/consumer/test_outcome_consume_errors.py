"""The outcomes joiner's consumer errors under the retry bound (issue 23): an error no wait fixes
ends in loan_scorer_retry_stalled{loop="outcomes"}, then an exit; errors it waits out never
count."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.kafka.retry_bound import RetryBound, RetryBoundExceeded
from consumer.outcomes.consume_errors import ConsumeErrors, counts
from consumer.outcomes.metrics import RealisedMetrics
from consumer.outcomes.service import OutcomesJoiner, run_outcomes
from consumer.outcomes.store import OutcomeStore
from tests.ports import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stalled(metrics: RealisedMetrics) -> float | None:
    return metrics.registry.get_sample_value("loan_scorer_retry_stalled", {"loop": "outcomes"})


def _errors(
    clock: Clock, *, unready_after_s: float = 60, exit_after_s: float = 300
) -> tuple[ConsumeErrors, RealisedMetrics]:
    """The joiner's errors under its bound, as the joiner builds them (the quiet spell of 30 s
    clamped by the unready bound)."""
    metrics = RealisedMetrics(CollectorRegistry())
    bound = RetryBound(
        "outcomes",
        unready_after_s=unready_after_s,
        exit_after_s=exit_after_s,
        readiness=None,
        metrics=metrics,
        clock=clock,
    )
    errors = ConsumeErrors(bound, clock=clock, quiet_s=30, unready_after_s=unready_after_s)
    return errors, metrics


def test_the_end_of_a_partition_and_a_topic_not_there_yet_are_waited_out() -> None:
    assert not counts(KafkaError._PARTITION_EOF)
    assert not counts(KafkaError.UNKNOWN_TOPIC_OR_PART)  # the shadow topic may come later
    assert counts(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert counts(KafkaError.GROUP_AUTHORIZATION_FAILED)


def test_a_topic_error_reported_once_lasts_until_that_topic_is_read_or_assigned() -> None:
    clock = Clock()
    errors, metrics = _errors(clock)
    errors.error(
        "scores", "TOPIC_AUTHORIZATION_FAILED", KafkaError.TOPIC_AUTHORIZATION_FAILED
    )  # librdkafka says it once
    errors.judge()
    clock.now += 61
    errors.read(["outcomes"])  # another topic's records do not end it
    errors.judge()
    assert errors.cause() == "topic 'scores': TOPIC_AUTHORIZATION_FAILED"
    assert _stalled(metrics) == 1
    clock.now += 240
    with pytest.raises(
        RetryBoundExceeded, match=r"outcomes failing for 301 s \(bound 300 s\): topic 'scores'"
    ):
        errors.judge()

    errors.assigned(["scores"])  # granted again: its partitions come
    errors.judge()
    assert errors.cause() is None
    assert _stalled(metrics) == 0


def test_an_error_about_no_topic_ends_with_a_record_or_after_a_quiet_spell() -> None:
    clock = Clock()
    errors, metrics = _errors(clock)
    errors.error(None, "_TRANSPORT")  # a broker blip, then an idle joiner
    errors.judge()
    clock.now += 29
    assert errors.cause() == "consumer: _TRANSPORT"
    clock.now += 1
    errors.judge()
    assert errors.cause() is None
    assert _stalled(metrics) == 0

    errors.error(None, "GROUP_AUTHORIZATION_FAILED")
    errors.read(["scores"])
    assert errors.cause() is None

    # Repeated while it lasts (a group it may not join): never quiet, so bounded.
    for _ in range(7):
        errors.error(None, "GROUP_AUTHORIZATION_FAILED")
        errors.judge()
        clock.now += 10
    assert _stalled(metrics) == 1


def test_another_topic_error_said_once_is_forgotten_after_a_quiet_spell() -> None:
    """A leader moving on an idle topic is reported once and over soon: remembered until the
    topic is read, it would stop a healthy joiner."""
    clock = Clock()
    errors, metrics = _errors(clock)
    errors.error("shadow", "LEADER_NOT_AVAILABLE", KafkaError.LEADER_NOT_AVAILABLE)
    errors.judge()
    assert errors.cause() == "consumer: topic 'shadow': LEADER_NOT_AVAILABLE"
    clock.now += 30
    errors.judge()
    assert errors.cause() is None
    clock.now += 300
    errors.judge()  # no exit
    assert _stalled(metrics) == 0


def test_the_quiet_spell_stays_below_the_unready_bound() -> None:
    """With the bounds set low (tests, impatient operators), one blip must still be forgotten
    before it is judged failing."""
    clock = Clock()
    errors, metrics = _errors(clock, unready_after_s=10, exit_after_s=20)
    errors.error(None, "_TRANSPORT")
    errors.judge()
    clock.now += 5
    errors.judge()
    assert errors.cause() is None
    clock.now += 30
    errors.judge()  # no exit
    assert _stalled(metrics) == 0


class _Message:
    def __init__(self, topic: str, code: int) -> None:
        self._topic, self._error = topic, KafkaError(code)

    def error(self) -> KafkaError:
        return self._error

    def topic(self) -> str:
        return self._topic


class _Consumer:
    def __init__(self, messages: list[_Message]) -> None:
        self.messages = messages

    def consume(self, _count: int, timeout: float) -> list[_Message]:
        messages, self.messages = self.messages, []
        return messages


def test_the_joiner_refused_a_topic_exits_past_the_bound(tmp_path: Path) -> None:
    clock = Clock()
    settings = Settings(retry_unready_after_s=2, retry_exit_after_s=6)
    metrics = RealisedMetrics(CollectorRegistry())
    store = OutcomeStore(tmp_path / "outcomes.sqlite")
    joiner = OutcomesJoiner(settings, store, metrics, clock=clock)
    consumer = _Consumer([_Message(settings.output_topic, KafkaError.TOPIC_AUTHORIZATION_FAILED)])
    joiner._consumer = consumer  # type: ignore[assignment]  # what run() sets
    try:
        joiner.run_once()
        clock.now += 3
        joiner.run_once()  # nothing new from librdkafka: the refusal still lasts
        assert _stalled(metrics) == 1
        clock.now += 3
        with pytest.raises(RetryBoundExceeded, match="TOPIC_AUTHORIZATION_FAILED"):
            joiner.run_once()

        # A topic not created yet is no fault, however long.
        consumer.messages = [_Message(settings.shadow_topic, KafkaError.UNKNOWN_TOPIC_OR_PART)]
        joiner._errors.assigned([settings.output_topic])
        for _ in range(10):
            joiner.run_once()
            clock.now += 3
        assert _stalled(metrics) == 0
    finally:
        store.close()


def test_run_outcomes_exits_1_with_one_critical_line_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(self: OutcomesJoiner) -> None:
        raise RetryBoundExceeded("outcomes failing for 6 s (bound 6 s): topic 'scores': X")

    monkeypatch.setattr(OutcomesJoiner, "run", refused)
    settings = Settings(outcomes_store=tmp_path / "o.sqlite", outcomes_http_port=free_port())
    assert run_outcomes(settings) == 1
    [line] = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert "topic 'scores'" in str(line.__dict__.get("error"))
