"""ACL refusals no wait fixes end in a 503 naming the cause, then a clean exit 1 (issue 23), on a
real broker that enforces ACLs: scripts/kafka-local.sh with KAFKA_ACLS=1 (KRaft's
StandardAuthorizer) and a SASL_PLAINTEXT listener whose SCRAM user is the scorer's. The test's
own set-up and checks go through the PLAINTEXT listener, whose principal is a super user.

- the output topic's WRITE grant disappears while the scorer runs (it scored before: the grant
  was there), which librdkafka reports as TOPIC_AUTHORIZATION_FAILED on every batch;
- the outcomes joiner may not read the scores topic: it stalls, then stops;
- a restore that cannot finish: the scorer may write the dedup changelog but not read it (a
  grant forgotten when the changelog was moved), so every restore of a partition with ids in the
  changelog is refused. This is the fault as it happens in production, not a simulation.

Bounds are short (not ready after 2 s, exit after 6 s) so each test waits seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
)
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.cimpl import NewTopic
from prometheus_client import CollectorRegistry

from consumer.config.settings import Settings
from consumer.kafka.retry_bound import RetryBoundExceeded
from consumer.outcomes.metrics import RealisedMetrics
from consumer.outcomes.service import OutcomesJoiner
from consumer.outcomes.store import OutcomeStore
from tests.conftest import KAFKA_LOCAL, _free_port
from tests.delivery.tools import missing
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.integration.test_retry_bounds import _events, _exit_code, _wait_for_reason
from tests.kafka_io import consume, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USER = "loan-scorer"
PRINCIPAL = f"User:{USER}"
BOUNDS = {
    "LOAN_SCORER_RETRY_UNREADY_AFTER_S": "2",
    "LOAN_SCORER_RETRY_EXIT_AFTER_S": "6",
    "LOAN_SCORER_KAFKA_EXTRA_CONFIG": json.dumps({"allow.auto.create.topics": False}),
    "PYTHONFAULTHANDLER": "1",
}


@dataclass(frozen=True)
class AclBroker:
    plaintext: str  # super user: the test's set-up and checks
    sasl: str  # the scorer's user, limited by ACLs
    password: str

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.plaintext})


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    if not shutil.which("java"):
        missing("needs Java 17+ to run a broker with ACLs (scripts/kafka-local.sh)")
    state = tmp_path_factory.mktemp("acl-broker")
    password = secrets.token_urlsafe(16)
    port, sasl_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "KAFKA_LOCAL_STATE": str(state),
        "KAFKA_SASL_PLAINTEXT_PORT": str(sasl_port),
        "KAFKA_ACLS": "1",
        "KAFKA_SCRAM_USER": USER,
        "KAFKA_SCRAM_PASSWORD": password,
    }
    subprocess.run([str(KAFKA_LOCAL), "up"], check=True, env=env)
    try:
        yield AclBroker(f"127.0.0.1:{port}", f"127.0.0.1:{sasl_port}", password)
    finally:  # stops the broker by the PID the script recorded, and deletes its data
        subprocess.run([str(KAFKA_LOCAL), "down"], check=False, env=env)


def _acl(
    kind: ResourceType, name: str, operation: AclOperation, *, prefixed: bool = False
) -> AclBinding:
    pattern = ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL
    return AclBinding(kind, name, pattern, PRINCIPAL, "*", operation, AclPermissionType.ALLOW)


def _grant(admin: AdminClient, bindings: list[AclBinding]) -> None:
    for future in admin.create_acls(bindings).values():
        future.result(timeout=30)


def _setup(
    broker: AclBroker, prefix: str, *, changelog_read: bool
) -> tuple[ScorerTopics, str, str]:
    """Topics named under `prefix`, and every grant the scorer needs, the changelog's READ only
    if asked; returns the topics, the group (also the transactional ids' prefix) and the
    changelog."""
    topics = ScorerTopics(f"{prefix}.in", f"{prefix}.out", f"{prefix}.dlq")
    changelog = f"{prefix}.ids"
    admin = broker.admin()
    for future in admin.create_topics(
        [NewTopic(name, num_partitions=1) for name in (*vars(topics).values(), changelog)]
    ).values():
        future.result(timeout=30)
    topic, group, txn = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID
    grants = [
        _acl(topic, topics.input, AclOperation.READ),
        _acl(topic, topics.output, AclOperation.WRITE),
        _acl(topic, topics.output, AclOperation.DESCRIBE),
        _acl(topic, topics.dlq, AclOperation.WRITE),
        _acl(topic, topics.dlq, AclOperation.DESCRIBE),
        _acl(topic, changelog, AclOperation.WRITE),
        _acl(topic, changelog, AclOperation.DESCRIBE),
        _acl(group, prefix, AclOperation.ALL, prefixed=True),  # the group and the restore's
        _acl(txn, prefix, AclOperation.ALL, prefixed=True),
    ]
    if changelog_read:
        grants.append(_acl(topic, changelog, AclOperation.READ))
    _grant(admin, grants)
    return topics, f"{prefix}.group", changelog


def _scorer(
    broker: AclBroker,
    topics: ScorerTopics,
    group: str,
    changelog: str,
    model_dir: Path,
    log: Path,
    delivery: str = "exactly-once",
) -> ScorerProcess:
    return ScorerProcess(
        broker.sasl,
        topics,
        group,
        model_dir,
        log,
        LOAN_SCORER_DEDUP_TOPIC=changelog,
        LOAN_SCORER_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        LOAN_SCORER_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        LOAN_SCORER_KAFKA_SASL_USERNAME=USER,
        LOAN_SCORER_KAFKA_SASL_PASSWORD=broker.password,
        LOAN_SCORER_DELIVERY=delivery,
        **BOUNDS,
    )


def _seed(broker: AclBroker, changelog: str) -> None:
    """Ids scored earlier (by a scorer whose grants were complete): a restore has records to
    read. The producer ends with the function, not with the broker."""
    producer = Producer({"bootstrap.servers": broker.plaintext})
    producer.produce(changelog, key=b"scored-before", value=b"{}", partition=0)
    assert producer.flush(30) == 0


def _assert_one_exit_line(scorer: ScorerProcess, *parts: str) -> None:
    assert _exit_code(scorer, timeout_s=60) == 1, scorer.logs()
    last = [line for line in scorer.logs().splitlines() if "cannot go on safely" in line]
    assert len(last) == 1, scorer.logs()
    for part in parts:
        assert part in last[0], (part, last[0])
    assert "Traceback" not in scorer.logs(), scorer.logs()


@pytest.mark.parametrize("delivery", ["exactly-once", "at-least-once"])
def test_the_output_topics_write_grant_removed_mid_stream_ends_in_a_503_then_exit_1(
    acl_broker: AclBroker, model_dir: Path, tmp_path: Path, delivery: str
) -> None:
    """Exactly-once: the transaction fails adding the partition, the commit names no topic, the
    diagnosis does. At-least-once: the delivery report names it."""
    topics, group, changelog = _setup(acl_broker, f"acl-out-{delivery}", changelog_read=True)
    scorer = _scorer(
        acl_broker, topics, group, changelog, model_dir, tmp_path / "scorer.log", delivery
    )
    scorer.start()
    try:
        scorer.wait_ready(timeout_s=90)
        events = _events(10)  # other ids after the refusal: scores, not duplicates
        produce(acl_broker.plaintext, topics.input, events[:5])
        scored = consume(
            acl_broker.plaintext, topics.output, expected=5, group_id="check", timeout_s=60
        )
        assert len(scored) == 5, scorer.logs()  # the grant was there: it scored

        admin = acl_broker.admin()  # kept: a dropped client cancels its futures
        removed = admin.delete_acls(
            [
                AclBindingFilter(
                    ResourceType.TOPIC,
                    topics.output,
                    ResourcePatternType.LITERAL,
                    PRINCIPAL,
                    "*",
                    AclOperation.WRITE,
                    AclPermissionType.ALLOW,
                )
            ]
        )
        for future in removed.values():
            assert len(future.result(timeout=30)) == 1
        produce(acl_broker.plaintext, topics.input, events[5:])

        answer = _wait_for_reason(scorer, "batch failing for", timeout_s=60)
        assert answer.status_code == 503
        [reason] = [r for r in answer.json()["reasons"] if "batch failing for" in r]
        assert topics.output in reason, reason
        assert "TOPIC_AUTHORIZATION_FAILED" in reason, reason
        _assert_one_exit_line(scorer, "batch failing for", topics.output)
    finally:
        scorer.kill()


def test_a_changelog_it_may_not_read_is_a_restore_that_cannot_finish_503_then_exit_1(
    acl_broker: AclBroker, model_dir: Path, tmp_path: Path
) -> None:
    topics, group, changelog = _setup(acl_broker, "acl-restore", changelog_read=False)
    _seed(acl_broker, changelog)
    scorer = _scorer(acl_broker, topics, group, changelog, model_dir, tmp_path / "scorer.log")
    scorer.start()
    try:
        answer = _wait_for_reason(scorer, "restore failing for", timeout_s=120)
        assert answer.status_code == 503
        [reason] = [r for r in answer.json()["reasons"] if "restore failing for" in r]
        assert f"{changelog}[0]" in reason, reason
        assert "TOPIC_AUTHORIZATION_FAILED: " in reason, reason  # its name, not its repr
        _assert_one_exit_line(scorer, "restore failing for", changelog)
    finally:
        scorer.kill()


def test_the_scorer_stays_up_while_its_grants_are_complete(
    acl_broker: AclBroker, model_dir: Path, tmp_path: Path
) -> None:
    """The control for both: the same grants, the changelog readable, and it scores on."""
    topics, group, changelog = _setup(acl_broker, "acl-ok", changelog_read=True)
    _seed(acl_broker, changelog)
    scorer = _scorer(acl_broker, topics, group, changelog, model_dir, tmp_path / "scorer.log")
    scorer.start()
    try:
        scorer.wait_ready(timeout_s=90)
        produce(acl_broker.plaintext, topics.input, _events(5))
        scored = consume(
            acl_broker.plaintext, topics.output, expected=5, group_id="check", timeout_s=60
        )
        assert len(scored) == 5, scorer.logs()
        time.sleep(8)  # past the exit bound
        assert scorer.readyz().status_code == 200, scorer.logs()
        assert scorer.process is not None
        assert scorer.process.poll() is None, scorer.logs()
    finally:
        scorer.kill()


def test_the_outcomes_joiner_refused_the_scores_topic_stalls_then_stops(
    acl_broker: AclBroker, tmp_path: Path
) -> None:
    """librdkafka reports a subscribed topic the joiner may not read once; the joiner used to log
    it and join nothing for ever. Now the bound judges it: stalled past 2 s, stopped past 6 s."""
    prefix = "acl-join"
    names = {k: f"{prefix}.{k}" for k in ("in", "out", "shadow", "outcomes")}
    admin = acl_broker.admin()
    for future in admin.create_topics(
        [NewTopic(name, num_partitions=1) for name in names.values()]
    ).values():
        future.result(timeout=30)
    topic = ResourceType.TOPIC
    _grant(
        admin,
        [
            *(_acl(topic, names[k], AclOperation.READ) for k in ("in", "shadow", "outcomes")),
            _acl(ResourceType.GROUP, prefix, AclOperation.ALL, prefixed=True),
        ],
    )  # no READ on the scores (output) topic
    settings = Settings(
        kafka_bootstrap_servers=acl_broker.sasl,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=USER,
        kafka_sasl_password=acl_broker.password,
        input_topic=names["in"],
        output_topic=names["out"],
        dlq_topic=f"{prefix}.dlq",
        shadow_topic=names["shadow"],
        outcomes_topic=names["outcomes"],
        outcomes_group_id=f"{prefix}.group",
        outcomes_store=tmp_path / "outcomes.sqlite3",
        retry_unready_after_s=2,
        retry_exit_after_s=6,
    )
    metrics = RealisedMetrics(CollectorRegistry())
    store = OutcomeStore(settings.outcomes_store)
    joiner = OutcomesJoiner(settings, store, metrics)
    stalled: list[float | None] = []
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            joiner.run()
            outcome.append(None)
        except BaseException as error:  # looked at in the test's thread
            outcome.append(error)

    def watch() -> None:
        while not outcome:
            stalled.append(
                metrics.registry.get_sample_value("loan_scorer_retry_stalled", {"loop": "outcomes"})
            )
            time.sleep(0.2)

    thread, watcher = threading.Thread(target=run), threading.Thread(target=watch)
    thread.start()
    watcher.start()
    try:
        thread.join(60)
        watcher.join(5)
        assert outcome, "the joiner went on joining nothing past its exit bound"
        [error] = outcome
        assert isinstance(error, RetryBoundExceeded), error
        assert f"topic {names['out']!r}: TOPIC_AUTHORIZATION_FAILED" in str(error)
        assert 1 in stalled  # stalled, on the metric, before it stopped
    finally:
        joiner.request_stop()
        thread.join(30)
        store.close()
