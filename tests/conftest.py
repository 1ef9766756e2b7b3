"""Shared fixtures: a real Kafka broker and per-test topic and group names.

The broker is, in order of preference: the one named by LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS (what
`make test` sets); a broker container started with testcontainers when a Docker engine answers (a
laptop, GitHub Actions; LOAN_SCORER_TEST_KAFKA_IMAGE picks the image, e.g. the registry-free
loan-scorer-kafka:4.1.1); otherwise a local Apache Kafka broker started by scripts/kafka-local.sh.
Never a mock. tests/container/test_testcontainers_broker.py runs the container path in CI.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.ci_exceptions import KNOWN as CI_EXCEPTIONS
from tests.ci_exceptions import named_exceptions
from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local.sh"
REGISTRY_LOCAL = REPO / "scripts" / "registry-local.sh"
KAFKA_IMAGE = os.environ.get("LOAN_SCORER_TEST_KAFKA_IMAGE", "apache/kafka:4.1.1")

TopicFactory = Callable[..., str]


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]  # testcontainers' own dependency

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:  # any failure means "no engine here"
        return False
    return True


def _free_port() -> int:
    return free_port()


@contextlib.contextmanager
def kafka_container(image: str, timeout_s: float = 180.0) -> Iterator[str]:
    """A single-node KRaft broker in a container, with transactions; yields its bootstrap address
    on the host. Works with apache/kafka and with images/kafka (the same KAFKA_* interface).

    testcontainers' KafkaContainer drives Confluent's images only, so this uses its generic
    DockerContainer: on a network of its own (an engine without a default bridge has no other),
    the client listener published on a free host port and advertised as 127.0.0.1:PORT.
    """
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
        # The reaper is an image from Docker Hub, which a machine without a registry cannot pull;
        # the `with` blocks below remove the container and network themselves.
        testcontainers_config.ryuk_disabled = True
    port = _free_port()
    env = {
        "CLUSTER_ID": "4L6g3nShT-eMCtK--X86sw",
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:9094",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:9092,HOST://127.0.0.1:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:PLAINTEXT"
        ),
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }
    bootstrap = f"127.0.0.1:{port}"
    with Network() as network:
        container = DockerContainer(image).with_network(network).with_bind_ports(9094, port)
        for key, value in env.items():
            container.with_env(key, value)
        with container:
            _wait_for_broker(bootstrap, container, timeout_s)
            yield bootstrap


def _wait_for_broker(bootstrap: str, container: Any, timeout_s: float) -> None:
    """Until the broker answers a metadata request with itself in it; fail fast if it exited."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status == "exited":
            logs = wrapped.logs(tail=40).decode(errors="replace")
            raise RuntimeError(f"the broker container exited:\n{logs}")
        with contextlib.suppress(Exception):  # not answering yet
            if admin.list_topics(timeout=2).brokers:
                return
        time.sleep(1)
    raise RuntimeError(f"the broker container did not answer on {bootstrap} within {timeout_s} s")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A bootstrap address of a real broker with transactions enabled."""
    configured = os.environ.get("LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        with kafka_container(KAFKA_IMAGE) as bootstrap:
            yield bootstrap
        return
    port = _free_port()
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(_free_port())}
    subprocess.run([str(KAFKA_LOCAL), "up"], check=True, env=env)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(KAFKA_LOCAL), "down"], check=False, env=env)


@pytest.fixture(scope="session")
def schema_registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Confluent-compatible URL of a real schema registry: LOAN_SCORER_SCHEMA_REGISTRY_URL if
    set, otherwise an Apicurio Registry started by scripts/registry-local.sh for the session (a
    missing Java or Maven fails the tests, as for the broker). Tests use subjects of their own
    topics, so they share it safely."""
    configured = os.environ.get("LOAN_SCORER_SCHEMA_REGISTRY_URL")
    if configured:
        yield configured
        return
    port = _free_port()
    env = {
        **os.environ,
        "REGISTRY_PORT": str(port),
        "REGISTRY_MANAGEMENT_PORT": str(_free_port()),
        "REGISTRY_LOCAL_STATE": str(tmp_path_factory.mktemp("registry")),
    }
    subprocess.run([str(REGISTRY_LOCAL), "up"], check=True, env=env)
    try:
        yield f"http://127.0.0.1:{port}/apis/ccompat/v7"
    finally:
        subprocess.run([str(REGISTRY_LOCAL), "down"], check=False, env=env)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained model directory: LOAN_SCORER_MODEL_DIR or build/model (what `make test` trains
    first), else one trained here, once per session, deterministically."""
    configured = Path(os.environ.get("LOAN_SCORER_MODEL_DIR") or REPO / "build" / "model")
    if (configured / "model_card.json").is_file():
        return configured
    from training.train import train_model

    out = tmp_path_factory.mktemp("model")
    train_model(out_dir=out, seed=42)
    return out


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names that no other test (or earlier run against the same broker) can share."""
    test_name = request.node.name.replace("[", "-").replace("]", "")[:80]

    def make(prefix: str) -> str:
        return f"{prefix}.{test_name}.{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def create_topic(
    kafka_admin: AdminClient, unique_name: Callable[[str], str]
) -> Iterator[TopicFactory]:
    """Create topics explicitly with the partition count a test needs; delete them afterwards."""
    created: list[str] = []

    def make(prefix: str, partitions: int = 1) -> str:
        name = unique_name(prefix)
        futures = kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)], operation_timeout=30
        )
        futures[name].result(timeout=60)
        created.append(name)
        return name

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            with contextlib.suppress(Exception):  # best-effort cleanup; names are unique anyway
                future.result(timeout=60)


@pytest.fixture
def group_id(unique_name: Callable[[str], str]) -> str:
    return unique_name("group")


@pytest.fixture(scope="session")
def challenger_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model version to serve as a challenger: build/challenger (what `make demo` trains,
    `loan-scorer train --seed 43`), else one trained here with that seed, once per session."""
    configured = REPO / "build" / "challenger"
    if (configured / "model_card.json").is_file():
        return configured
    from training.train import train_model

    out = tmp_path_factory.mktemp("challenger")
    train_model(out_dir=out, seed=43)
    return out


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every test left untested as a named CI exception (tests/ci_exceptions.py), counted under
    its own heading, so the end of CI's output says what was not checked and why."""
    messages = [
        str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        for report in terminalreporter.stats.get("skipped", [])
    ]
    names = named_exceptions(messages)
    if not names:
        return
    terminalreporter.section(f"CI exceptions: {len(names)}")
    for name in sorted(set(names)):
        terminalreporter.line(f"{name} ({names.count(name)}): {CI_EXCEPTIONS[name]}")
