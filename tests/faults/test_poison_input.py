"""Poison input through the real stream: random bytes, a 5 MB value, deeply nested JSON, invalid
UTF-8, NaN and Infinity, and a value one step past each numeric constraint's edge. Each is
dead-lettered exactly once with a reason, and the partition keeps flowing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import HEADER_ORIGINAL_SIZE, parse_dead_letter_headers
from schemas.errors import DeadLetterReason
from tests.faults.fleet import Broker, Scorer, create_topics
from tests.faults.recovery import FaultRow, unique
from tests.faults.stream import (
    BIG_MESSAGE_BYTES,
    CommittedReader,
    Inputs,
    fault_events,
    keyed_inputs,
    produce_all,
    read_topic,
    verdict,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

FIVE_MB = 5 * 1024 * 1024


def _template() -> dict[str, Any]:
    return dict(orjson.loads(next(iter(demo_events(1))).value))


def _with(path: tuple[str, str], value: object) -> bytes:
    event = _template()
    event[path[0]][path[1]] = value
    return orjson.dumps(event)


# Each numeric constraint of the v1 contract, one step past its edge (schemas/application_v1.py).
EDGES: list[tuple[str, str, object]] = [
    ("applicant", "age", 17),
    ("applicant", "age", 101),
    ("applicant", "age", 18.5),
    ("applicant", "job_seniority_years", -1e-9),
    ("finances", "monthly_income", -1e-9),
    ("finances", "monthly_expenses", -1e-9),
    ("finances", "assets", -1e-9),
    ("finances", "debt", -1e-9),
    ("loan", "amount", 0),
    ("loan", "term_months", 0),
    ("loan", "term_months", 121),
]


def _edge_cases() -> list[bytes]:
    return [_with((group, name), value) for group, name, value in EDGES]


def poison_values() -> dict[str, bytes]:
    template = orjson.dumps(_template())
    return {
        "random-bytes": os.urandom(4096),
        "five-mb": b'{"pad": "' + b"x" * FIVE_MB + b'"}',
        "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "invalid-utf8": template.replace(b'"loan_application.submitted"', b'"loan_\xff\xfe"'),
        "nan": template.replace(b'"amount":', b'"amount":NaN,"x":', 1),
        "infinity": _with(("loan", "amount"), 1e309).replace(b"null", b"Infinity", 1),
        "empty": b"",
    }


def test_poison_input_is_dead_lettered_once_each_and_the_partition_keeps_flowing(
    fault_broker: Broker,
    model_dir: Path,
    tmp_path: Path,
    fault_report: list[dict[str, Any]],
) -> None:
    base = keyed_inputs(fault_events(1_000), poison_every=10_000)
    poison = {f"poison-{name}".encode(): value for name, value in poison_values().items()}
    poison.update({f"edge-{i}".encode(): v for i, v in enumerate(_edge_cases())})
    records = list(base.records)
    step = max(1, len(records) // (len(poison) + 1))
    for i, item in enumerate(poison.items()):
        records.insert((i + 1) * step, item)  # spread through the stream
    inputs = Inputs(records, base.valid_event_ids, set(poison) | base.invalid_keys)

    topics = create_topics(fault_broker, unique("poison"), 1, input_max_bytes=BIG_MESSAGE_BYTES)
    produce_all(fault_broker.bootstrap, topics.input, records)
    group = unique("poison")
    reader = CommittedReader(fault_broker.bootstrap, topics.output, group + "-reader")
    scorer = Scorer(fault_broker, topics, group, model_dir, tmp_path, "poison-0")
    scorer.start()
    try:
        result = verdict(fault_broker.bootstrap, topics, group, inputs, reader)
        letters = read_topic(fault_broker.bootstrap, topics.dlq, len(inputs.invalid_keys), 30)
        alive = scorer.alive()
        code, _took = scorer.terminate(timeout_s=30)
    finally:
        reader.close()
        scorer.kill()
    fault_report.append(
        FaultRow.of("poison input", "exactly-once", len(records), len(poison), result, [])
    )
    result.assert_exactly_once()
    assert result.dead_letters_duplicated == 0
    assert alive, scorer.logs()
    assert code == 0, scorer.logs()
    reasons = {r.key: parse_dead_letter_headers(list(r.headers)).reason for r in letters}
    assert set(reasons) == inputs.invalid_keys
    assert reasons[b"poison-five-mb"] in {DeadLetterReason.UNWRITABLE}
    five_mb = next(r for r in letters if r.key == b"poison-five-mb")
    assert (
        dict(five_mb.headers)[HEADER_ORIGINAL_SIZE] == str(len(poison[b"poison-five-mb"])).encode()
    )
