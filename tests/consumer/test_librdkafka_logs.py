"""librdkafka's own lines through the structured logger: facility and client as fields, the text
as the event, repeats of a kind held back within a window and counted in the next line."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from consumer.config.settings import Settings
from consumer.kafka.config import admin_config, consumer_config, producer_config
from consumer.telemetry.logs import (
    LIBRDKAFKA_LOGGER,
    RepeatLimiter,
    configure_logging,
    librdkafka_logger,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_of_a_kind_passes_then_one_per_window_counting_those_held_back() -> None:
    clock = Clock()
    limiter = RepeatLimiter(30.0, clock=clock)
    assert limiter.admit("a") == 0
    clock.now = 10.0
    assert limiter.admit("a") is None
    assert limiter.admit("b") == 0  # another kind is not held back by the first
    clock.now = 29.9
    assert limiter.admit("a") is None
    clock.now = 30.0
    assert limiter.admit("a") == 2
    clock.now = 45.0
    assert limiter.admit("a") is None
    clock.now = 100.0
    assert limiter.admit("a") == 1


def test_kinds_are_remembered_up_to_a_bound_least_recent_first_forgotten() -> None:
    clock = Clock()
    limiter = RepeatLimiter(30.0, max_kinds=2, clock=clock)
    assert limiter.admit("a") == 0
    assert limiter.admit("b") == 0
    assert limiter.admit("c") == 0  # "a" forgotten
    assert limiter.admit("a") == 0
    assert limiter.admit("c") is None


def _fail_line(text: str) -> None:
    # What confluent-kafka's log callback calls, as it calls it.
    librdkafka_logger().log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", text)


def test_a_librdkafka_line_is_one_json_object_with_its_facility_and_repeats_held_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    refused = "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused"
    _fail_line(refused + " (after 0ms in state CONNECT)")
    _fail_line(refused + " (after 1ms in state CONNECT, 1 identical error(s) suppressed)")
    _fail_line("another failure")
    librdkafka_logger().log(logging.WARNING, "%s [%s] %s", "REQTMOUT", "rdkafka#producer-2", "t")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["facility"], line["event"]) for line in lines] == [
        ("FAIL", refused + " (after 0ms in state CONNECT)"),
        ("FAIL", "another failure"),  # differs in more than its numbers: a kind of its own
        ("REQTMOUT", "t"),
    ]
    assert lines[0]["level"] == "error"
    assert lines[0]["logger"] == LIBRDKAFKA_LOGGER
    assert lines[0]["kafka_client"] == "rdkafka#consumer-1"
    assert lines[2]["level"] == "warning"
    assert all("repeats_held_back" not in line for line in lines)


def test_every_client_of_the_service_hands_librdkafka_the_structured_logger() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    for config in (
        consumer_config(settings),
        producer_config(settings),
        admin_config(settings, "loan-scorer-check"),
    ):
        assert config["logger"] is logging.getLogger(LIBRDKAFKA_LOGGER)


def test_lines_go_to_the_stderr_of_the_moment_not_the_one_logging_was_set_up_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CLI command's stderr (CliRunner's, in tests) is closed after it; a librdkafka thread of
    that command still logging must not write to it ("I/O operation on closed file")."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO")
    first.close()
    monkeypatch.setattr(sys, "stderr", second)

    logging.getLogger("consumer.test").warning("after the swap")

    assert json.loads(second.getvalue())["event"] == "after the swap"
