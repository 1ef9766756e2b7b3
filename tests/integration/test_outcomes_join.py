"""`loan-scorer outcomes` on the real broker: after the outcomes replay the realised AUC of each
version equals scikit-learn's on the same pairs, and a `kill -9` of the joiner mid-stream loses
and doubles no joined pair."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sklearn.metrics import roc_auc_score

from consumer.config.settings import Settings
from consumer.outcomes.metrics import RealisedMetrics
from consumer.outcomes.service import OutcomesJoiner
from consumer.outcomes.store import OutcomeStore
from consumer.tools.demo_events import DemoEvent, demo_events, demo_outcomes
from schemas.decode import decode_application, decode_loan_scored
from schemas.encode import encode_loan_scored
from schemas.score_v1 import loan_scored_for
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import (
    ScorerTopics,
    make_topics,
    running_scorer,
    scorer_settings,
)
from tests.integration.scorer_process import PacedProducer, ScorerProcess, free_port
from tests.kafka_io import consume, produce
from training.dataset import iter_applications

pytestmark = pytest.mark.integration


@contextmanager
def running_joiner(settings: Settings) -> Iterator[None]:
    """The joiner in a thread on its own store, stopped gracefully when the block ends."""
    store = OutcomeStore(settings.outcomes_store)
    joiner = OutcomesJoiner(settings, store, RealisedMetrics(CollectorRegistry()))
    errors: list[BaseException] = []

    def target() -> None:
        try:
            joiner.run()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target, name="joiner", daemon=True)
    thread.start()
    try:
        yield
    finally:
        joiner.request_stop()
        thread.join(60)
        store.close()
    if errors:
        raise errors[0]


def _wait_for_pairs(path: Path, expected: int, timeout_s: float = 120.0) -> int:
    deadline = time.monotonic() + timeout_s
    count = -1
    while time.monotonic() < deadline:
        count = _pairs_in(path)
        if count >= expected:
            return count
        time.sleep(0.5)
    return count


def _pairs_in(path: Path) -> int:
    if not path.is_file():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM scores s JOIN outcomes o USING (application_id)"
                    " JOIN applications a USING (application_id)"
                ).fetchone()[0]
            )
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def test_realised_auc_per_version_equals_sklearn_on_the_same_pairs(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    challenger_model_dir: Path,
    tmp_path: Path,
) -> None:
    topics = make_topics(create_topic, partitions=3)
    shadow_topic = create_topic("shadow", 3)
    outcomes_topic = create_topic("outcomes", 3)
    events = [e for e in demo_events() if e.broken is None]
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    settings = scorer_settings(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        batch_max_events=500,
        shadow_topic=shadow_topic,
        outcomes_topic=outcomes_topic,
        outcomes_group_id=group_id + "-outcomes",
        outcomes_store=tmp_path / "outcomes.sqlite3",
        outcomes_metrics_interval_s=3600,  # published by the test once every pair is in
        challengers=orjson.dumps([{"model_dir": str(challenger_model_dir)}]).decode(),
    )
    count = len(events)
    with running_scorer(settings):
        acting = consume(kafka_bootstrap, topics.output, expected=count, group_id=group_id + "-o")
        shadow = consume(kafka_bootstrap, shadow_topic, expected=count, group_id=group_id + "-s")
    with running_joiner(settings):
        produce(kafka_bootstrap, outcomes_topic, ((e.key, e.value) for e in demo_outcomes()))
        assert _wait_for_pairs(settings.outcomes_store, 2 * count) == 2 * count
        time.sleep(1)  # the joiner's thread owns the store; let its last batch settle
    store = OutcomeStore(settings.outcomes_store)
    metrics = RealisedMetrics(CollectorRegistry())
    metrics.publish(store.pairs())
    store.close()

    # The oracle: the scores as a read_committed reader sees them, the data set's labels.
    labels = {app.application_id: label for app, label in iter_applications()}
    for records, role in ((acting, "champion"), (shadow, "shadow")):
        scores = [decode_loan_scored(r.value) for r in records]
        assert len({s.application_id for s in scores}) == count
        [version] = {s.model_version for s in scores}
        expected = roc_auc_score(
            [labels[s.application_id] for s in scores],
            [s.probability_of_default for s in scores],
        )
        realised = metrics.registry.get_sample_value(
            "loan_scorer_realised_roc_auc", {"model_version": version, "role": role}
        )
        assert realised is not None
        assert abs(realised - expected) <= 1e-9
        pairs = metrics.registry.get_sample_value(
            "loan_scorer_realised_pairs", {"model_version": version, "role": role}
        )
        assert pairs == count


def _scored(application_bytes: bytes, version: str, role: str, pd: float) -> bytes:
    application = decode_application(application_bytes)
    return encode_loan_scored(
        loan_scored_for(
            application,
            model_version=version,
            policy_version="policy-v2",
            probability_of_default=pd,
            risk_grade="B",
            decision="approve",
            reasons=[],
            model_role=role,
        )
    )


def _wait_for_metrics(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"the joiner's metrics did not answer within {timeout_s} s")


def _metric(port: int, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_kill_9_of_the_joiner_loses_and_doubles_no_joined_pair(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    count = 3_000
    topics = ScorerTopics(
        input=create_topic("in", 3), output=create_topic("out", 3), dlq=create_topic("dlq", 1)
    )
    shadow_topic = create_topic("shadow", 3)
    outcomes_topic = create_topic("outcomes", 3)
    events = list(demo_events(count))
    labels = dict(zip((e.key for e in demo_outcomes(count)), demo_outcomes(count), strict=True))
    # Every application's four records, sent interleaved at a steady pace from a thread, so the
    # joiner is mid-stream when it is killed.
    records: dict[str, list[tuple[bytes, bytes]]] = {
        topics.input: [],
        topics.output: [],
        shadow_topic: [],
        outcomes_topic: [],
    }
    expected: dict[tuple[str, str, str], float] = {}
    for i, event in enumerate(events):
        app_id = event.key.decode()
        champion_pd, shadow_pd = (i % 97 + 1) / 100, (i % 89 + 1) / 100
        records[topics.input].append((event.key, event.value))
        records[topics.output].append(
            (event.key, _scored(event.value, "m-champion", "champion", champion_pd))
        )
        records[shadow_topic].append(
            (event.key, _scored(event.value, "m-shadow", "shadow", shadow_pd))
        )
        records[outcomes_topic].append((event.key, labels[event.key].value))
        expected[(app_id, "m-champion", "champion")] = champion_pd
        expected[(app_id, "m-shadow", "shadow")] = shadow_pd
    producers = [
        PacedProducer(
            kafka_bootstrap, topic, [DemoEvent(k, v, None) for k, v in pairs], rate_per_s=300
        )
        for topic, pairs in records.items()
    ]
    store = tmp_path / "outcomes.sqlite3"
    env = {
        "LOAN_SCORER_SHADOW_TOPIC": shadow_topic,
        "LOAN_SCORER_OUTCOMES_TOPIC": outcomes_topic,
        "LOAN_SCORER_OUTCOMES_GROUP_ID": group_id + "-outcomes",
        "LOAN_SCORER_OUTCOMES_STORE": str(store),
        "LOAN_SCORER_OUTCOMES_METRICS_INTERVAL_S": "1",
    }
    port = free_port()

    def joiner_process() -> ScorerProcess:
        return ScorerProcess(
            kafka_bootstrap,
            topics,
            group_id,
            model_dir,
            tmp_path / "joiner.log",
            module="consumer outcomes",
            LOAN_SCORER_OUTCOMES_HTTP_PORT=str(port),
            **env,
        )

    joiner = joiner_process()
    restarted: ScorerProcess | None = None
    joiner.start()
    try:
        _wait_for_metrics(port)
        for producer in producers:
            producer.start()
        at_kill = _wait_for_pairs(store, 600)
        joiner.kill()  # SIGKILL: no chance to finish a batch or close anything
        assert 0 < at_kill < 2 * count, f"killed at {at_kill} pairs: not mid-stream"
        restarted = joiner_process()
        restarted.start()
        for producer in producers:
            producer.join(120)
        assert _wait_for_pairs(store, 2 * count) == 2 * count
        time.sleep(3)  # a refresh of the metrics, and time for any (wrong) extra pair to land
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            joined = db.execute(
                "SELECT s.application_id, s.model_version, s.role, s.pd FROM scores s"
                " JOIN outcomes o USING (application_id) JOIN applications a USING (application_id)"
            ).fetchall()
        pairs_metric = _metric(port, "loan_scorer_realised_pairs")
    finally:
        joiner.kill()
        if restarted is not None:
            restarted.kill()
    assert len(joined) == 2 * count
    assert {(a, v, r): pd for a, v, r, pd in joined} == expected
    assert sum(pairs_metric.values()) == 2 * count
