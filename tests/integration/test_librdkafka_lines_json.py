"""A real `loan-scorer run` whose broker does not answer: every line it writes is JSON, none of
them one of librdkafka's raw `%3|...|FAIL|...` lines, and librdkafka's failures are there with
their facility, each kind written once per window rather than at every reconnect."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import STARTUP_BOUND_S, ScorerProcess, free_port

pytestmark = [pytest.mark.integration]

_RAW_LIBRDKAFKA = re.compile(r"^%\d+\|")
# Past librdkafka's longest reconnect backoff (10 s), so each client fails to connect again,
# more than once, while the scorer is watched: without the limiter the same kinds repeat.
WATCHED_S = 25.0


def _librdkafka_lines(log: str) -> list[dict[str, Any]]:
    return [
        line
        for line in (json.loads(raw) for raw in log.splitlines() if raw.startswith("{"))
        if line.get("logger") == "librdkafka"
    ]


def _any_librdkafka_line(log: str) -> bool:
    """One of librdkafka's lines, raw or through our logger."""
    return '"logger": "librdkafka"' in log or any(
        _RAW_LIBRDKAFKA.match(raw) for raw in log.splitlines()
    )


def test_librdkafka_lines_are_json_with_their_facility_during_a_broker_outage(
    group_id: str, model_dir: Path, tmp_path: Path
) -> None:
    nothing_listens = f"127.0.0.1:{free_port()}"
    scorer = ScorerProcess(
        nothing_listens,
        ScorerTopics(input="in", output="out", dlq="dlq"),
        group_id,
        model_dir,
        tmp_path / "scorer.log",
    )
    scorer.start()
    try:
        deadline = time.monotonic() + STARTUP_BOUND_S
        while not _any_librdkafka_line(scorer.log_file.read_text(errors="replace")):
            assert scorer.process is not None
            assert scorer.process.poll() is None, scorer.logs()
            assert time.monotonic() < deadline, "no librdkafka line:\n" + scorer.logs()
            time.sleep(0.5)
        time.sleep(WATCHED_S)
    finally:
        scorer.kill()
    log = scorer.log_file.read_text(errors="replace")

    lines = [raw for raw in log.splitlines() if raw.strip()]
    assert [raw for raw in lines if _RAW_LIBRDKAFKA.match(raw)] == []
    for raw in lines:
        json.loads(raw)  # every line is one JSON object (raises otherwise)
    failures = [line for line in _librdkafka_lines(log) if line["facility"] == "FAIL"]
    assert failures, log[-4000:]
    assert all(line["level"] == "error" and line["kafka_client"] for line in failures)
    assert all("Connect to" in line["event"] for line in failures)
    # One line per client and kind within the window: the limiter held the repeats back.
    kinds = Counter(
        (line["kafka_client"], re.sub(r"\d+", "#", line["event"].split(" (after")[0]))
        for line in failures
    )
    assert max(kinds.values()) == 1, kinds
