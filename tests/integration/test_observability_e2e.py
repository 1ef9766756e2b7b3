"""What ops see matches what happened: the scorer process's /metrics after a known stream passes
`promtool check metrics`, counts exactly what the broker saw, and a real Prometheus server
scraping it on loopback returns the same numbers through its HTTP API."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from tests.delivery.tools import REPO, find_tool
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import PacedProducer, ScorerProcess, free_port
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

EVENTS = 300
BROKEN_EVERY = 30  # 10 broken
JOB = "loan-scorer"


def _sample(exposition: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (text exposition format)."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        if all(f'{key}="{val}"' in label_text for key, val in labels.items()):
            total += float(value)
    return total


class ScoredStream(NamedTuple):
    scorer: ScorerProcess
    topics: ScorerTopics


@pytest.fixture(scope="module")
def scored_stream(
    kafka_bootstrap: str,
    model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    kafka_admin: AdminClient,
) -> Iterator[ScoredStream]:
    """A scorer process that has scored a known stream: 300 events, every 30th broken."""
    run = uuid.uuid4().hex[:8]
    group_id = f"observability-{run}"
    topics = ScorerTopics(f"in.obs.{run}", f"out.obs.{run}", f"dlq.obs.{run}")
    futures = kafka_admin.create_topics(
        [NewTopic(name, num_partitions=3, replication_factor=1) for name in vars(topics).values()]
    )
    for future in futures.values():
        future.result(60)
    events = list(demo_events(EVENTS, broken_every=BROKEN_EVERY))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    log = tmp_path_factory.mktemp("scorer") / "scorer.log"
    scorer = ScorerProcess(kafka_bootstrap, topics, group_id, model_dir, log)
    scorer.start()
    try:
        scorer.wait_ready()
        consume(kafka_bootstrap, topics.output, expected=290, group_id=group_id + "-r")
        consume(kafka_bootstrap, topics.dlq, expected=10, group_id=group_id + "-d")
        yield ScoredStream(scorer, topics)
    finally:
        scorer.kill()


def test_metrics_count_exactly_what_happened_and_pass_promtool(
    scored_stream: ScoredStream, tmp_path: Path
) -> None:
    exposition = httpx.get(f"http://127.0.0.1:{scored_stream.scorer.port}/metrics", timeout=5).text

    assert _sample(exposition, "loan_scorer_events_consumed_total") == EVENTS
    assert _sample(exposition, "loan_scorer_events_scored_total") == EVENTS - 10
    assert _sample(exposition, "loan_scorer_dead_letters_total") == 10
    assert _sample(exposition, "loan_scorer_model_info") == 1
    assert _sample(exposition, "loan_scorer_ready") == 1
    assert _sample(exposition, "loan_scorer_transactions_total", outcome="committed") >= 1
    assert _sample(exposition, "loan_scorer_probability_of_default_count") == EVENTS - 10
    assert _sample(exposition, "loan_scorer_end_to_end_latency_seconds_count") == EVENTS - 10
    # Every scored input carried a Kafka timestamp: each score dates its processing latency too.
    assert _sample(exposition, "loan_scorer_processing_latency_seconds_count") == EVENTS - 10
    assert _sample(exposition, "loan_scorer_model_role_info", role="champion") == 1
    assert "_created" not in exposition

    promtool = find_tool("promtool")
    result = subprocess.run(
        [str(promtool), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@contextlib.contextmanager
def _prometheus(scorer_port: int, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus server on loopback scraping the scorer every second; yields its URL."""
    prometheus = find_tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: {JOB}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{scorer_port}']}}]\n"
    )
    server = subprocess.Popen(  # a fixed, local binary
        [
            str(prometheus),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def _query(url: str, query: str, at: float | None = None) -> list[dict[str, Any]] | None:
    """The result vector of an instant query; None while the server does not answer yet."""
    params = {"query": query} if at is None else {"query": query, "time": f"{at:.3f}"}
    try:
        answer = httpx.get(f"{url}/api/v1/query", params=params, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    assert answer.get("status") == "success", (query, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _wait_for(url: str, query: str, at_least: float, timeout_s: float = 90) -> float:
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        results = _query(url, query)
        if results:
            value = float(results[0]["value"][1])
            if value >= at_least:
                return value
        time.sleep(1)
    raise AssertionError(f"{query} = {value} after {timeout_s} s, wanted at least {at_least}")


def test_a_real_prometheus_scrapes_the_scorer_and_answers_queries(
    scored_stream: ScoredStream, tmp_path: Path
) -> None:
    with _prometheus(scored_stream.scorer.port, tmp_path) as url:
        try:
            value = _wait_for(url, "sum(loan_scorer_events_consumed_total)", EVENTS, 60)
        except AssertionError as error:
            raise AssertionError((tmp_path / "prometheus.log").read_text()[-3000:]) from error
        assert value == EVENTS


DASHBOARD = REPO / "observability" / "grafana" / "dashboards" / "loan-scorer.json"
# What Grafana puts in for its variables: the scrape job, a rate window that holds several of
# this test's 1 s scrapes, and the dashboard's default time range.
GRAFANA_VARIABLES = {"$job": JOB, "$__rate_interval": "15s", "$__range": "30m"}
MORE_EVENTS = 700  # with the fixture's 290 scores, above the 500 the drift panel waits for


def test_every_dashboard_panel_shows_data_on_a_single_model_scorer_under_traffic(
    scored_stream: ScoredStream, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The issue-25 check: a healthy scorer serving its champion alone, with events flowing,
    answers every query of every panel with at least one number (NaN counts as no data: it is
    what a quantile of an empty rate gives). Runs last in this module: it adds events."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    events = list(demo_events(MORE_EVENTS, seed=8))  # other event ids than the fixture's
    with _prometheus(scored_stream.scorer.port, tmp_path) as url:
        _wait_for(url, "sum(loan_scorer_events_consumed_total)", EVENTS)
        producer = PacedProducer(kafka_bootstrap, scored_stream.topics.input, events, 50.0)
        producer.start()
        # A moment while events flow (most of them scored), for every query to be asked at.
        _wait_for(url, "sum(loan_scorer_events_scored_total)", EVENTS - 10 + 0.8 * MORE_EVENTS)
        under_traffic = time.time()
        producer.join(120)
        time.sleep(2)  # the last scrapes before `under_traffic` are in
        empty = []
        for panel in panels:
            for target in panel["targets"]:
                query = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    query = query.replace(variable, value)
                results = _query(url, query, at=under_traffic) or []
                values = [float(result["value"][1]) for result in results]
                if not [value for value in values if not math.isnan(value)]:
                    empty.append(f"{panel['title']} [{target['refId']}]: {query} -> {values}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
