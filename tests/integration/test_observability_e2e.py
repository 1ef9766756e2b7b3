"""What ops see matches what happened: the scorer process's /metrics after a known stream passes
`promtool check metrics`, counts exactly what the broker saw, and a real Prometheus server
scraping it on loopback returns the same numbers through its HTTP API."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from tests.delivery.tools import find_tool
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess, free_port
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

EVENTS = 300
BROKEN_EVERY = 30  # 10 broken


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


@pytest.fixture(scope="module")
def scored_stream(
    kafka_bootstrap: str,
    model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    kafka_admin: AdminClient,
) -> Iterator[ScorerProcess]:
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
        yield scorer
    finally:
        scorer.kill()


def test_metrics_count_exactly_what_happened_and_pass_promtool(
    scored_stream: ScorerProcess, tmp_path: Path
) -> None:
    exposition = httpx.get(f"http://127.0.0.1:{scored_stream.port}/metrics", timeout=5).text

    assert _sample(exposition, "loan_scorer_events_consumed_total") == EVENTS
    assert _sample(exposition, "loan_scorer_events_scored_total") == EVENTS - 10
    assert _sample(exposition, "loan_scorer_dead_letters_total") == 10
    assert _sample(exposition, "loan_scorer_model_info") == 1
    assert _sample(exposition, "loan_scorer_ready") == 1
    assert _sample(exposition, "loan_scorer_transactions_total", outcome="committed") >= 1
    assert _sample(exposition, "loan_scorer_probability_of_default_count") == EVENTS - 10
    assert _sample(exposition, "loan_scorer_end_to_end_latency_seconds_count") == EVENTS - 10

    promtool = find_tool("promtool")
    result = subprocess.run(
        [str(promtool), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_real_prometheus_scrapes_the_scorer_and_answers_queries(
    scored_stream: ScorerProcess, tmp_path: Path
) -> None:
    prometheus = find_tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: loan-scorer\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{scored_stream.port}']}}]\n"
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
        query = "sum(loan_scorer_events_consumed_total)"
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline and value is None:
            time.sleep(1)
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5
                ).json()
            except (httpx.HTTPError, ValueError):
                continue
            results = answer.get("data", {}).get("result", [])
            if results:
                value = float(results[0]["value"][1])
        assert value == EVENTS, (tmp_path / "prometheus.log").read_text()[-3000:]
    finally:
        server.terminate()
        server.wait(30)
