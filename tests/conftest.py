"""Shared fixtures: a real Kafka broker and per-test topic and group names.

The broker is, in order of preference: the one named by LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS (what
`make test` sets); a testcontainers KafkaContainer when a Docker engine answers (a laptop, GitHub
Actions); otherwise a local Apache Kafka broker started by scripts/kafka-local.sh. Never a mock.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local.sh"
REGISTRY_LOCAL = REPO / "scripts" / "registry-local.sh"
KAFKA_IMAGE = "apache/kafka:4.1.1"

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
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A bootstrap address of a real broker with transactions enabled."""
    configured = os.environ.get("LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
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
