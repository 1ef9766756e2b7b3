"""One answer everywhere: the stream and the HTTP API of the same real `loan-scorer run` process
give the same PD, grade, decision and reasons, bit for bit, for the same application.

Not through the function they share: the stream's answers come from the output topic (decoded by
the real consumer, scored in `ScoringPipeline`, encoded, committed in a transaction), the API's
over real HTTP from the process's own server, in batches and one at a time. The benchmark scores
through the same `loan-scorer run` code path, so it gives these answers too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from tests.api.credentials import AUTH, FULL_STORED, write_key_file
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

EVENTS = 400  # real applications of the data set: approvals, reviews, declines, knock-outs
ANSWER = ("probability_of_default", "risk_grade", "decision", "reasons", "model_version")


@pytest.fixture(scope="module")
def scorer(
    kafka_bootstrap: str,
    model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    kafka_admin: AdminClient,
) -> Iterator[tuple[ScorerProcess, list[dict[str, Any]], dict[str, dict[str, Any]]]]:
    """A scorer process that has scored EVENTS real applications; their stream answers."""
    run = uuid.uuid4().hex[:8]
    group_id = f"one-answer-{run}"
    topics = ScorerTopics(f"in.one.{run}", f"out.one.{run}", f"dlq.one.{run}")
    futures = kafka_admin.create_topics(
        [NewTopic(name, num_partitions=2, replication_factor=1) for name in vars(topics).values()]
    )
    for future in futures.values():
        future.result(60)
    events = list(demo_events(EVENTS))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    workdir = tmp_path_factory.mktemp("one")
    process = ScorerProcess(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        workdir / "log",
        LOAN_SCORER_API_KEYS_FILE=str(write_key_file(workdir / "api-keys", FULL_STORED)),
        LOAN_SCORER_API_RATE_BURST="1000",
    )
    process.start()
    try:
        process.wait_ready()
        records = consume(kafka_bootstrap, topics.output, expected=EVENTS, group_id=f"{group_id}-r")
        stream = {}
        for record in records:
            assert record.value is not None
            score = orjson.loads(record.value)
            stream[score["application_id"]] = score
        yield process, [orjson.loads(e.value) for e in events], stream
    finally:
        process.kill()


def _answer(score: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(score[field] for field in ANSWER)


def test_the_stream_scored_every_application_once(
    scorer: tuple[ScorerProcess, list[dict[str, Any]], dict[str, dict[str, Any]]],
) -> None:
    _process, applications, stream = scorer
    assert set(stream) == {app["application_id"] for app in applications}
    decisions = {score["decision"] for score in stream.values()}
    assert decisions == {"approve", "review", "decline"}


def test_the_http_api_answers_as_the_stream_did_in_batches(
    scorer: tuple[ScorerProcess, list[dict[str, Any]], dict[str, dict[str, Any]]],
) -> None:
    process, applications, stream = scorer
    url = f"http://127.0.0.1:{process.port}/v1/score"
    with httpx.Client(timeout=30) as client:
        for start in range(0, len(applications), 100):
            batch = applications[start : start + 100]
            response = client.post(url, content=orjson.dumps(batch), headers=_JSON)
            assert response.status_code == 200, response.text
            for app, score in zip(batch, response.json(), strict=True):
                assert _answer(score) == _answer(stream[app["application_id"]])


def test_the_http_api_answers_as_the_stream_did_one_at_a_time(
    scorer: tuple[ScorerProcess, list[dict[str, Any]], dict[str, dict[str, Any]]],
) -> None:
    process, applications, stream = scorer
    url = f"http://127.0.0.1:{process.port}/v1/score"
    with httpx.Client(timeout=30) as client:
        for app in applications[::10]:
            response = client.post(url, content=orjson.dumps(app), headers=_JSON)
            assert response.status_code == 200, response.text
            assert _answer(response.json()) == _answer(stream[app["application_id"]])


_JSON = {"content-type": "application/json", **AUTH}
