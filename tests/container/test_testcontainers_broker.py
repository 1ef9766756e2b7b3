"""The broker fixture's testcontainers path, for real: a broker container from the registry-free
Kafka image (images/kafka), started through testcontainers on the private engine, and the scorer's
exactly-once promise held against it, beside the default local broker of `make test`."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from tests.conftest import kafka_container
from tests.container.engine import KAFKA_LOCAL_IMAGE, docker_host, require_image
from tests.integration.scorer_harness import ScorerTopics, running_scorer, scorer_settings
from tests.kafka_io import consume, produce

pytestmark = [pytest.mark.container, pytest.mark.integration]


@pytest.fixture(scope="module")
def container_bootstrap() -> Iterator[str]:
    require_image(KAFKA_LOCAL_IMAGE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", docker_host())  # testcontainers' client reads it
        with kafka_container(KAFKA_LOCAL_IMAGE) as bootstrap:
            yield bootstrap


def _topics(bootstrap: str) -> ScorerTopics:
    suffix = uuid.uuid4().hex[:8]
    topics = ScorerTopics(input=f"in.{suffix}", output=f"out.{suffix}", dlq=f"dlq.{suffix}")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [
            NewTopic(topics.input, num_partitions=3, replication_factor=1),
            NewTopic(topics.output, num_partitions=3, replication_factor=1),
            NewTopic(topics.dlq, num_partitions=1, replication_factor=1),
        ]
    )
    for future in futures.values():
        future.result(timeout=60)
    return topics


@pytest.mark.timeout(600)  # the broker container's start counts too, on two shared cores
def test_the_scorer_scores_exactly_once_on_a_testcontainers_broker(
    container_bootstrap: str, model_dir: Path
) -> None:
    topics = _topics(container_bootstrap)
    events = list(demo_events(400, broken_every=20))
    produce(container_bootstrap, topics.input, ((e.key, e.value) for e in events))
    valid = {e.key.decode() for e in events if e.broken is None}
    broken = {e.key: e.value for e in events if e.broken is not None}
    assert (len(valid), len(broken)) == (380, 20)

    group = f"tc-{uuid.uuid4().hex[:8]}"
    settings = scorer_settings(container_bootstrap, topics, group, model_dir)
    with running_scorer(settings):
        scores = consume(container_bootstrap, topics.output, expected=380, group_id=group + "-r")
        dead = consume(container_bootstrap, topics.dlq, expected=20, group_id=group + "-d")

    ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
    assert len(scores) == 380
    assert max(ids.values()) == 1, "an application was scored twice"
    assert set(ids) == valid
    assert len(dead) == 20
    for record in dead:
        assert record.key is not None
        assert record.value == broken[record.key]
        assert parse_dead_letter_headers(list(record.headers)).topic == topics.input
