"""A score the broker refuses is replaced by a truncated dead letter and is then never remembered
as scored (issue 22, 6b): an upstream retry of the same event is tried again, not skipped as a
duplicate of a score nobody received, and neither counts as a decision. On the real broker: the
output topic takes at most 200 bytes, so every score is refused (MSG_SIZE_TOO_LARGE)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.errors import DeadLetterReason
from tests.conftest import TopicFactory
from tests.integration.scorer_harness import (
    RunningScorer,
    ScorerTopics,
    running_scorer,
    scorer_settings,
)
from tests.integration.test_loop_faults import topic_with_config as topic_with_config
from tests.kafka_io import consume, produce

pytestmark = pytest.mark.integration


def _decisions(scorer: RunningScorer) -> float:
    return sum(
        sample.value
        for family in scorer.metrics.registry.collect()
        if family.name == "loan_scorer_events_scored"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def test_an_event_whose_score_was_replaced_by_a_truncated_dead_letter_is_not_a_duplicate_later(
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    topic_with_config: Callable[..., str],
    group_id: str,
    model_dir: Path,
) -> None:
    topics = ScorerTopics(
        input=create_topic("in", 1),
        output=topic_with_config("out", 1, **{"max.message.bytes": "200"}),
        dlq=create_topic("dlq", 1),
    )
    [event] = list(demo_events(1))
    settings = scorer_settings(kafka_bootstrap, topics, group_id, model_dir, kafka_timeout_s=10)
    with running_scorer(settings) as scorer:
        produce(kafka_bootstrap, topics.input, [(event.key, event.value)])
        consume(kafka_bootstrap, topics.dlq, expected=1, group_id=group_id + "-d1")
        produce(kafka_bootstrap, topics.input, [(event.key, event.value)])  # upstream retry
        dead = consume(kafka_bootstrap, topics.dlq, expected=2, group_id=group_id + "-d2")

        assert len(dead) == 2  # the retry was tried again, not skipped as a duplicate
        for letter in dead:
            assert parse_dead_letter_headers(list(letter.headers)).reason is (
                DeadLetterReason.UNWRITABLE
            )
        assert scorer.counter("loan_scorer_duplicates_total") == 0
        assert _decisions(scorer) == 0
        assert scorer.counter("loan_scorer_dead_letters_total", reason="unwritable") == 2
