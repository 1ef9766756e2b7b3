"""The scorer's promises across Kafka, against the real broker: every valid application scored
exactly once, every invalid one dead-lettered with its reason and original bytes, order per key
kept, restarts and aborted transactions neither losing nor doubling anything."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from schemas.errors import DeadLetterReason
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import make_topics, running_scorer, scorer_settings
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration

# How each of the demo's breakages must be dead-lettered (schemas/README.md), written out here
# rather than asked of the decoder under test.
EXPECTED_REASON = {
    "invalid_json": DeadLetterReason.INVALID_JSON,
    "string_number": DeadLetterReason.SCHEMA_VIOLATION,
    "unknown_enum": DeadLetterReason.SCHEMA_VIOLATION,
    "naive_timestamp": DeadLetterReason.SCHEMA_VIOLATION,
    "missing_field": DeadLetterReason.SCHEMA_VIOLATION,
    "major_version_2": DeadLetterReason.UNSUPPORTED_VERSION,
    "nan_amount": DeadLetterReason.SCHEMA_VIOLATION,
}


def test_two_thousand_events_every_twentieth_broken(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    topics = make_topics(create_topic)
    events = list(demo_events(2_000, broken_every=20))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    valid_keys = [e.key for e in events if e.broken is None]
    broken = {e.key: e for e in events if e.broken is not None}
    assert (len(valid_keys), len(broken)) == (1_900, 100)

    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir)
    with running_scorer(settings) as scorer:
        scores = consume(kafka_bootstrap, topics.output, expected=1_900, group_id=group_id + "-r")
        dead = consume(kafka_bootstrap, topics.dlq, expected=100, group_id=group_id + "-d")

    scored_ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
    assert len(scores) == 1_900
    assert max(scored_ids.values()) == 1, "an application was scored twice"
    assert set(scored_ids) == {key.decode() for key in valid_keys}
    assert all(r.key == decode_loan_scored(r.value).application_id.encode() for r in scores)

    assert len(dead) == 100
    for record in dead:
        assert record.key in broken
        assert record.value == broken[record.key].value, "dead letter bytes were altered"
        context = parse_dead_letter_headers(list(record.headers))
        assert context.topic == topics.input
        assert context.reason is EXPECTED_REASON[str(broken[record.key].broken)]
        assert context.message
    assert {r.key for r in dead} == set(broken)

    assert scorer.counter("loan_scorer_events_consumed_total") == 2_000
    assert scorer.counter("loan_scorer_dead_letters_total", reason="schema_violation") > 0
    scored_total = sum(
        scorer.counter("loan_scorer_events_scored_total", decision=d, model_version=v)
        for d in ("approve", "review", "decline")
        for v in {decode_loan_scored(r.value).model_version for r in scores}
    )
    assert scored_total == 1_900
    # Drift is measured on the committed scores: the real applications look like the training data.
    psi = {
        feature: scorer.metrics.registry.get_sample_value(
            "loan_scorer_population_stability_index", {"feature": feature}
        )
        for feature in ("score", "monthly_income")
    }
    assert None not in psi.values(), f"a drift series is missing: {psi}"
    assert all(0.0 <= value < 0.1 for value in psi.values() if value is not None), psi


def _keyed_events(keys: int, per_key: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    """Several events per application id, each with a sequence number in its event_id."""
    template = next(iter(demo_events(1))).value
    events = []
    for seq in range(start, start + per_key):
        for k in range(keys):
            event = orjson.loads(template)
            event["application_id"] = f"app-{k:03d}"
            event["event_id"] = f"00000000-0000-4000-8000-{k:04d}{seq:08d}"
            events.append((f"app-{k:03d}".encode(), orjson.dumps(event)))
    return events


def test_order_per_key_is_kept_and_a_restart_resumes_without_re_emitting(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    topics = make_topics(create_topic, partitions=4)
    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir, batch_max_events=37)
    first = _keyed_events(keys=20, per_key=15)
    second = _keyed_events(keys=20, per_key=15, start=15)

    produce(kafka_bootstrap, topics.input, first)
    with running_scorer(settings):
        consume(kafka_bootstrap, topics.output, expected=len(first), group_id=group_id + "-a")
    produce(kafka_bootstrap, topics.input, second)
    with running_scorer(settings):  # same group: resumes from the committed offsets
        scores = consume(
            kafka_bootstrap,
            topics.output,
            expected=len(first) + len(second),
            group_id=group_id + "-b",
        )

    source_ids = [str(decode_loan_scored(r.value).source_event_id) for r in scores]
    assert len(scores) == len(first) + len(second)
    assert len(set(source_ids)) == len(source_ids), "committed work was emitted again"
    by_key: dict[bytes | None, list[str]] = defaultdict(list)
    for record in sorted(scores, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(str(decode_loan_scored(record.value).source_event_id))
    for key, sequence in by_key.items():
        assert sequence == sorted(sequence), f"scores of {key!r} are out of order"
        assert len(sequence) == 30


def test_an_aborted_transaction_leaves_nothing_visible_and_the_batch_is_scored_on_retry(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    topics = make_topics(create_topic, partitions=1)
    events = list(demo_events(300))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    aborts_left = [2]

    def abort_twice(stage: str) -> None:
        if stage == "before_commit" and aborts_left[0] > 0:
            aborts_left[0] -= 1
            raise KafkaException(
                KafkaError(KafkaError._STATE, "injected abortable failure", txn_requires_abort=True)
            )

    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir, batch_max_events=100)
    with running_scorer(settings, fault_injector=abort_twice) as scorer:
        committed = consume(kafka_bootstrap, topics.output, expected=300, group_id=group_id + "-c")
        everything = consume(
            kafka_bootstrap,
            topics.output,
            expected=300,
            group_id=group_id + "-u",
            isolation="read_uncommitted",
        )

    ids = Counter(decode_loan_scored(r.value).application_id for r in committed)
    assert len(committed) == 300
    assert max(ids.values()) == 1
    assert scorer.counter("loan_scorer_transactions_total", outcome="aborted") == 2
    # Each batch read again after an abort is consumed once, not once per attempt.
    assert scorer.counter("loan_scorer_events_consumed_total") == 300
    # The aborted attempts really wrote their records; read_committed is what hides them.
    assert len(everything) > len(committed)


def test_at_least_once_mode_scores_every_valid_event_and_dead_letters_the_rest(
    kafka_bootstrap: str, create_topic: TopicFactory, group_id: str, model_dir: Path
) -> None:
    """For brokers without transactions: offsets stored only after delivery. A clean run has no
    duplicates; a crash could add some (documented), never lose one."""
    topics = make_topics(create_topic)
    events = list(demo_events(500, broken_every=25))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    settings = scorer_settings(
        kafka_bootstrap, topics, group_id, model_dir, delivery="at-least-once"
    )
    with running_scorer(settings) as scorer:
        scores = consume(kafka_bootstrap, topics.output, expected=480, group_id=group_id + "-r")
        dead = consume(kafka_bootstrap, topics.dlq, expected=20, group_id=group_id + "-d")

    assert {decode_loan_scored(r.value).application_id for r in scores} == {
        e.key.decode() for e in events if e.broken is None
    }
    assert len(dead) == 20
    assert scorer.counter("loan_scorer_transactions_total", outcome="committed") >= 1
