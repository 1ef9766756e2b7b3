"""Champion and challengers on the real broker: shadow scores only on the shadow topic and inside
the champion's transactions; the canary share holds over 10,000 applications and each
application keeps its model across a restart."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.tools.demo_events import demo_events
from schemas.decode import decode_loan_scored
from scoring.artifact import load_model
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import make_topics, running_scorer, scorer_settings
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration


def test_shadow_scores_reach_only_the_shadow_topic_inside_the_champions_transactions(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    challenger_model_dir: Path,
) -> None:
    topics = make_topics(create_topic, partitions=2)
    shadow_topic = create_topic("shadow", 2)
    events = list(demo_events(400))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    aborts_left = [2]

    def abort_twice(stage: str) -> None:
        if stage == "before_commit" and aborts_left[0] > 0:
            aborts_left[0] -= 1
            raise KafkaException(
                KafkaError(KafkaError._STATE, "injected abortable failure", txn_requires_abort=True)
            )

    settings = scorer_settings(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        batch_max_events=100,
        shadow_topic=shadow_topic,
        challengers=orjson.dumps([{"model_dir": str(challenger_model_dir)}]).decode(),
    )
    with running_scorer(settings, fault_injector=abort_twice) as scorer:
        acting = consume(kafka_bootstrap, topics.output, expected=400, group_id=group_id + "-o")
        shadow = consume(kafka_bootstrap, shadow_topic, expected=400, group_id=group_id + "-s")
        acting_all = consume(
            kafka_bootstrap,
            topics.output,
            expected=400,
            group_id=group_id + "-ou",
            isolation="read_uncommitted",
        )
        shadow_all = consume(
            kafka_bootstrap,
            shadow_topic,
            expected=400,
            group_id=group_id + "-su",
            isolation="read_uncommitted",
        )

    champion = load_model(model_dir).model_version
    challenger = load_model(challenger_model_dir).model_version
    assert champion != challenger
    sent = {e.key.decode() for e in events}
    # Committed: each application once on each topic, each model on its own topic only.
    acting_scores = [decode_loan_scored(r.value) for r in acting]
    shadow_scores = [decode_loan_scored(r.value) for r in shadow]
    assert Counter(s.application_id for s in acting_scores) == Counter(sent)
    assert Counter(s.application_id for s in shadow_scores) == Counter(sent)
    assert {(s.model_version, s.model_role) for s in acting_scores} == {(champion, "champion")}
    assert {(s.model_version, s.model_role) for s in shadow_scores} == {(challenger, "shadow")}
    # Even uncommitted, no shadow score ever reached the output topic.
    assert {decode_loan_scored(r.value).model_role for r in acting_all} == {"champion"}
    # The two aborted attempts wrote to both topics, and their abort hid both: the shadow
    # records were in the champion's transactions.
    assert scorer.counter("loan_scorer_transactions_total", outcome="aborted") == 2
    assert len(acting_all) > 400
    assert len(shadow_all) > 400
    assert len(shadow_all) - 400 == len(acting_all) - 400
    assert scorer.counter(
        "loan_scorer_model_scores_total",
        model_version=challenger,
        role="shadow",
        decision="approve",
    ) == sum(1 for s in shadow_scores if s.decision == "approve")


def _expected_role(application_id: str, share: float) -> str:
    # The README's recipe, written out: SHA-256 of the id, first 8 bytes big-endian over 2**64.
    bucket = int.from_bytes(hashlib.sha256(application_id.encode()).digest()[:8], "big") / 2**64
    return "canary" if bucket < share else "champion"


def test_the_canary_share_holds_over_ten_thousand_applications_and_survives_a_restart(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    model_dir: Path,
    challenger_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="loan_scorer.audit")
    share = 0.2
    topics = make_topics(create_topic, partitions=3)
    shadow_topic = create_topic("shadow", 3)
    first = list(demo_events(10_000, seed=1))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in first))
    settings = scorer_settings(
        kafka_bootstrap,
        topics,
        group_id,
        model_dir,
        batch_max_events=500,
        shadow_topic=shadow_topic,
        challengers=orjson.dumps(
            [{"model_dir": str(challenger_model_dir), "mode": "canary", "share": share}]
        ).decode(),
    )
    with running_scorer(settings):
        before = consume(kafka_bootstrap, topics.output, expected=10_000, group_id=group_id + "-a")
        shadowed = consume(kafka_bootstrap, shadow_topic, expected=1_900, group_id=group_id + "-s")
    scores = [decode_loan_scored(r.value) for r in before]
    assert len(scores) == 10_000
    canary_share = sum(1 for s in scores if s.model_role == "canary") / len(scores)
    assert abs(canary_share - share) <= 0.01
    versions = {s.model_role: s.model_version for s in scores}
    assert versions == {
        "canary": load_model(challenger_model_dir).model_version,
        "champion": load_model(model_dir).model_version,
    }
    assert all(s.model_role == _expected_role(s.application_id, share) for s in scores)
    # The champion scored each canary application in shadow, and only those.
    champion_in_shadow = [decode_loan_scored(r.value) for r in shadowed]
    assert sorted(s.application_id for s in champion_in_shadow) == sorted(
        s.application_id for s in scores if s.model_role == "canary"
    )
    assert {s.model_version for s in champion_in_shadow} == {load_model(model_dir).model_version}
    # The audit trail counts each decision under the model that made it, the canary's included.
    audited: Counter[tuple[str, str]] = Counter()
    for entry in caplog.records:
        if getattr(entry, "audit", None) == "stream_batch":
            assert entry.__dict__["champion_version"] == load_model(model_dir).model_version
            for version, counts in entry.__dict__["decisions_by_model"].items():
                audited.update({(version, decision): n for decision, n in counts.items()})
    assert audited == Counter((s.model_version, s.decision) for s in scores)

    # The same applications submitted again (new event ids), to a scorer started afresh.
    again = list(demo_events(10_000, seed=2))
    assert [e.key for e in again] == [e.key for e in first]
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in again))
    with running_scorer(settings):
        both = consume(kafka_bootstrap, topics.output, expected=20_000, group_id=group_id + "-b")
    roles: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for record in both:
        score = decode_loan_scored(record.value)
        roles[score.application_id].add((score.model_version, score.model_role))
    assert len(both) == 20_000
    assert len(roles) == 10_000
    assert all(len(models) == 1 for models in roles.values()), "an applicant changed model"
