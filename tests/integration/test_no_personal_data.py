"""Issue 12: no applicant value leaves the scorer except in the score it was asked for.

A real `loan-scorer run` (real broker, DEBUG logging) scores applications whose every personal
value (income, expenses, assets, debt, amounts, age, seniority, statuses) is a sentinel, from the
stream and over its authenticated HTTP API, valid ones and each kind of invalid one. Then every
log line, every metric label, every dead-letter header and every HTTP refusal is scanned for each
sentinel: none may appear. The audit lines are checked to be there, saying who got which decision.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.api.api_keys import new_key
from schemas.examples import example_application
from tests.api.credentials import write_key_file
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import Record, consume, produce

pytestmark = pytest.mark.integration

VALID = 24
KEY, STORED = new_key("pii-test", frozenset({"score", "model:read"}))
STATUSES = {
    "marital_status": ["widow", "separated", "divorced"],
    "home_ownership": ["parents", "private", "rent"],
    "job_type": ["freelance", "partime", "fixed"],
}


def _number(value: float) -> str:
    """A number as a leak would print it, not preceded or followed by another digit."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return rf"(?<![\d]){re.escape(text)}(?![\d])"


def _keyed(field: str, value: object) -> str:
    """A field name followed closely by its value (`"age": 47`, `age=47`, `'age', 47`)."""
    return rf"{field}\W{{1,6}}{re.escape(str(value))}(?![\d])"


@dataclass
class Sent:
    key: bytes
    value: bytes
    patterns: list[str]


def valid_application(index: int, run: str) -> Sent:
    applicant = {
        "age": 23 + index,
        "marital_status": STATUSES["marital_status"][index % 3],
        "home_ownership": STATUSES["home_ownership"][index % 3],
        "job_type": STATUSES["job_type"][index % 3],
        "job_seniority_years": 2 + index % 5,
    }
    finances = {
        "monthly_income": 4817.93 + index,
        "monthly_expenses": 613.37 + index,
        "assets": 23456.71 + index,
        "debt": 1289.17 + index,
    }
    loan = {"amount": 1733 + 2 * index, "purchase_price": 2957 + 2 * index}
    app_id = f"pii-{run}-{index}"
    app = example_application(
        application_id=app_id,
        event_id=str(uuid.uuid4()),
        applicant=applicant,
        finances=finances,
        loan=loan,
    )
    patterns = [_number(v) for v in (*finances.values(), *loan.values())]
    patterns += [_keyed(field, value) for field, value in applicant.items()]
    patterns += [_keyed("term_months", app["loan"]["term_months"])]
    return Sent(app_id.encode(), orjson.dumps(app), patterns)


def invalid_applications(run: str) -> list[Sent]:
    """One of each refusal, each carrying values that must not be quoted back anywhere."""
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"finances": {"monthly_income": "58213.77 per month"}}, [_number(58213.77)]),
        ({"applicant": {"age": 187}}, [_keyed("age", 187)]),
        ({"applicant": {"marital_status": "zzsentinelstatus"}}, ["zzsentinelstatus"]),
        ({"loan": {"amount": -48213}}, [_number(48213)]),
        ({"finances": {"debt": 71935.13, "assets": "lots"}}, [_number(71935.13), "lots"]),
    ]
    sent = []
    for number, (overrides, patterns) in enumerate(cases):
        app_id = f"pii-bad-{run}-{number}"
        body = orjson.dumps(
            example_application(application_id=app_id, event_id=str(uuid.uuid4()), **overrides)
        )
        sent.append(Sent(app_id.encode(), body, patterns))
    truncated = orjson.dumps(example_application(finances={"monthly_income": 93517.41}))
    sent.append(
        Sent(b"pii-truncated", truncated[: truncated.index(b"93517") + 8], [_number(93517.41)])
    )
    return sent


@dataclass
class Observed:
    valid: list[Sent]
    invalid: list[Sent]
    dead_letters: list[Record]
    api_refusals: list[bytes]
    metrics: str
    log: str


@pytest.fixture(scope="module")
def observed(
    kafka_bootstrap: str,
    model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    kafka_admin: AdminClient,
) -> Iterator[Observed]:
    run = uuid.uuid4().hex[:8]
    topics = ScorerTopics(f"in.pii.{run}", f"out.pii.{run}", f"dlq.pii.{run}")
    futures = kafka_admin.create_topics(
        [NewTopic(name, num_partitions=2, replication_factor=1) for name in vars(topics).values()]
    )
    for future in futures.values():
        future.result(60)
    valid = [valid_application(i, run) for i in range(VALID)]
    invalid = invalid_applications(run)
    workdir = tmp_path_factory.mktemp("pii")
    process = ScorerProcess(
        kafka_bootstrap,
        topics,
        f"pii-{run}",
        model_dir,
        workdir / "log",
        LOAN_SCORER_LOG_LEVEL="DEBUG",
        LOAN_SCORER_API_KEYS_FILE=str(write_key_file(workdir / "keys", STORED)),
    )
    process.start()
    try:
        process.wait_ready()
        produce(kafka_bootstrap, topics.input, ((s.key, s.value) for s in [*valid, *invalid]))
        consume(kafka_bootstrap, topics.output, expected=VALID, group_id=f"pii-{run}-out")
        dead_letters = consume(
            kafka_bootstrap, topics.dlq, expected=len(invalid), group_id=f"pii-{run}-dlq"
        )
        refusals = []
        headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{process.port}", timeout=30) as http:
            for sent in valid[:8]:
                response = http.post("/v1/score", content=sent.value, headers=headers)
                assert response.status_code == 200, response.text
            batch = b"[" + b",".join(s.value for s in valid[8:]) + b"]"
            assert http.post("/v1/score", content=batch, headers=headers).status_code == 200
            for sent in invalid:
                response = http.post("/v1/score", content=sent.value, headers=headers)
                assert response.status_code in (400, 422), response.text
                refusals.append(response.content)
            metrics = http.get("/metrics").text
        code, _ = process.terminate(30)
        assert code == 0
        yield Observed(
            valid, invalid, dead_letters, refusals, metrics, process.log_file.read_text()
        )
    finally:
        process.kill()


def _leaks(text: str, sent: list[Sent]) -> list[str]:
    return [p for s in sent for p in s.patterns if re.search(p, text)]


def test_no_log_line_holds_an_applicant_value(observed: Observed) -> None:
    lines = observed.log.splitlines()
    assert len(lines) > 20  # DEBUG: the scan covers a real amount of logging
    leaks = [(line, _leaks(line, observed.valid + observed.invalid)) for line in lines]
    assert [leak for leak in leaks if leak[1]] == []


def test_no_metric_label_holds_an_applicant_value(observed: Observed) -> None:
    labels = " ".join(re.findall(r"\{[^}]*\}", observed.metrics))
    # Decisions are labelled (which ones depends on the model: the one without marital status
    # and age sends all 24 of these to review), and no label quotes what an applicant sent.
    assert re.search(r'decision="(approve|review|decline)"', labels), labels
    assert _leaks(labels, observed.valid + observed.invalid) == []


def test_no_dead_letter_header_holds_an_applicant_value(observed: Observed) -> None:
    assert len(observed.dead_letters) == len(observed.invalid)
    for record in observed.dead_letters:
        text = " ".join(
            f"{name}={value.decode(errors='replace')}" for name, value in record.headers
        )
        assert "error" in text  # the headers say why ...
        assert _leaks(text, observed.invalid) == [], text  # ... without quoting the input


def test_no_http_refusal_quotes_an_applicant_value(observed: Observed) -> None:
    for body in observed.api_refusals:
        assert _leaks(body.decode(), observed.invalid) == [], body


def test_every_api_decision_and_stream_batch_is_audited(observed: Observed) -> None:
    audit = [
        orjson.loads(line)
        for line in observed.log.splitlines()
        if line.startswith("{") and '"audit"' in line
    ]
    api = [entry for entry in audit if entry["audit"] == "api_decision"]
    batches = [entry for entry in audit if entry["audit"] == "stream_batch"]

    assert {entry["application_id"] for entry in api} == {s.key.decode() for s in observed.valid}
    assert {entry["client"] for entry in api} == {"pii-test"}
    for entry in api:
        assert entry["decision"] in ("approve", "review", "decline")
        assert entry["model_version"]
        assert entry["policy_version"]
        assert entry["latency_ms"] >= 0
        assert len(entry["request_id"]) >= 8
    assert sum(sum(b["decisions"].values()) for b in batches) == VALID
    assert sum(sum(b["dead_letters"].values()) for b in batches) == len(observed.invalid)
