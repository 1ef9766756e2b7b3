"""What the loop makes of librdkafka's client errors: a refused login or certificate is a setting
to fix, named on /readyz and logged once per attempt; other errors are transient."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.records import BatchOutcome, InboundMessage
from consumer.runtime.loop import ScoringLoop
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness


def _loop(readiness: Readiness) -> ScoringLoop:
    def never_called(messages: Sequence[InboundMessage]) -> BatchOutcome:
        del messages
        raise AssertionError("no batch in these tests")

    return ScoringLoop(Settings(), never_called, ScorerMetrics(CollectorRegistry()), readiness)


@pytest.mark.parametrize(
    ("code", "text", "reason"),
    [
        (
            KafkaError._AUTHENTICATION,
            "SASL authentication error: Authentication failed due to invalid credentials",
            "Kafka authentication failed: SASL authentication error: Authentication failed due "
            "to invalid credentials",
        ),
        (
            KafkaError._SSL,
            "SSL handshake failed: certificate verify failed",
            "Kafka TLS handshake failed: SSL handshake failed: certificate verify failed",
        ),
    ],
)
def test_a_refused_login_or_certificate_makes_the_scorer_unready_saying_why(
    code: int, text: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    with caplog.at_level(logging.ERROR, logger="consumer.runtime.loop"):
        _loop(readiness)._on_client_error(KafkaError(code, text))
    snapshot = readiness.snapshot()
    assert not snapshot.ready
    assert reason in snapshot.reasons()
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.__dict__["error"] == text


def test_a_transient_client_error_is_a_warning_and_names_no_security_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    readiness = Readiness()
    readiness.set_model_loaded(True)
    readiness.set_broker_reachable(True)
    with caplog.at_level(logging.WARNING, logger="consumer.runtime.loop"):
        _loop(readiness)._on_client_error(KafkaError(KafkaError._TRANSPORT, "Disconnected"))
    assert readiness.snapshot().ready
    [record] = caplog.records
    assert record.levelno == logging.WARNING
