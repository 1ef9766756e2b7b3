"""Audit lines: written whatever the log level, as one JSON object each, with no applicant data."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from consumer.telemetry import audit
from consumer.telemetry.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    audit_level = audit.audit_logger.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    audit.audit_logger.setLevel(audit_level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restored_logging")
def test_the_audit_trail_is_written_even_at_log_level_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("WARNING")
    logging.getLogger("consumer.pipeline.scoring").info("an ordinary info line")
    audit.api_decision(
        client="crm",
        request_id="req-12345678",
        application_id="app-1",
        model_version="m1",
        policy_version="policy-v2",
        decision="approve",
        latency_ms=1.23456,
    )
    audit.stream_batch(
        champion_version="m1",
        policy_version="policy-v2",
        decisions=[("m1", "approve"), ("m2", "decline"), ("m1", "approve")],
        dead_letter_reasons=["invalid_json"],
        duplicates=1,
        offsets={"loan-applications:0": (10, 14)},
        latency_ms=7.0,
    )

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["audit"] for line in lines] == ["api_decision", "stream_batch"]
    decision, batch = lines
    assert decision["client"] == "crm"
    assert decision["application_id"] == "app-1"
    assert decision["decision"] == "approve"
    assert decision["latency_ms"] == 1.235
    assert decision["logger"] == "loan_scorer.audit"
    assert batch["decisions"] == {"approve": 2, "decline": 1}
    # A canary's decision is counted under the canary, not the champion.
    assert batch["decisions_by_model"] == {"m1": {"approve": 2}, "m2": {"decline": 1}}
    assert batch["model_versions"] == ["m1", "m2"]
    assert batch["champion_version"] == "m1"
    assert batch["dead_letters"] == {"invalid_json": 1}
    assert batch["offsets"] == {"loan-applications:0": [10, 14]}
    assert batch["duplicates"] == 1
