"""The built image, run as a container the way the chart and OpenShift run it.

Linters cannot tell a wrong COPY path, a model the non-root user cannot read, a probe on the wrong
port or an entrypoint that ignores SIGTERM. These tests run the image on a real engine against
the test broker (host network): read-only root, a tmpfs /tmp, no capabilities, memory and CPU
limits, as the chart's UID and as an arbitrary UID in group 0.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from consumer.tools.demo_events import demo_events
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from tests.conftest import TopicFactory
from tests.container.engine import SCORER_IMAGE, docker, require_image
from tests.delivery.tools import REPO
from tests.integration.scorer_harness import make_topics
from tests.integration.scorer_process import free_port
from tests.kafka_io import consume, produce

pytestmark = [pytest.mark.container, pytest.mark.integration]

CHART_VALUES = REPO / "helm" / "loan-scorer" / "values.yaml"
# What OpenShift's restricted SCC assigns: a UID from the namespace's range, group 0.
OPENSHIFT_USER = "1000670000:0"
EVENTS = 300
BROKEN_EVERY = 10  # 270 scored, 30 dead-lettered


@pytest.fixture(scope="module")
def image() -> str:
    require_image(SCORER_IMAGE)
    return SCORER_IMAGE


def _chart_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(CHART_VALUES.read_text())
    return values


def chart_user(image: str) -> str:
    """The UID:GID the chart runs the container as; the image's own USER when the chart leaves
    runAsUser unset (as it may for OpenShift, which assigns one)."""
    pod = _chart_values().get("podSecurityContext") or {}
    uid, gid = pod.get("runAsUser"), pod.get("runAsGroup")
    if uid is None:
        result = docker("image", "inspect", "-f", "{{.Config.User}}", image)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()
    return f"{uid}:{gid if gid is not None else uid}"


def grace_period_s() -> float:
    return float(_chart_values()["terminationGracePeriodSeconds"])


class Container:
    """One `docker run -d` of the image, removed whatever happens."""

    def __init__(self, image: str, user: str, env: dict[str, str]) -> None:
        self.name = f"loan-scorer-test-{uuid.uuid4().hex[:10]}"
        args = [
            "run",
            "--detach",
            "--name",
            self.name,
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",  # noqa: S108  # the container's own tmpfs, as the chart's emptyDir
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "768m",
            "--cpus",
            "1",
            "--user",
            user,
            # The image's own HEALTHCHECK command, polled faster so the test need not wait 15 s.
            "--health-interval",
            "1s",
            "--health-start-period",
            "60s",
        ]
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        result = docker(*args, image, "run")
        assert result.returncode == 0, result.stderr

    def inspect(self, template: str) -> str:
        result = docker("inspect", "-f", template, self.name)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def logs(self) -> str:
        result = docker("logs", "--tail", "60", self.name)
        return (result.stdout + result.stderr)[-6000:]

    def wait_healthy(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.inspect("{{.State.Running}}") != "true":
                raise AssertionError(f"container exited early:\n{self.logs()}")
            status = self.inspect("{{.State.Health.Status}}")
            if status == "healthy":
                return
            assert status != "unhealthy", f"HEALTHCHECK says unhealthy:\n{self.logs()}"
            time.sleep(0.5)
        raise AssertionError(f"not healthy within {timeout_s} s:\n{self.logs()}")

    def stop_with_sigterm(self, limit_s: float) -> tuple[int, float]:
        """SIGTERM to PID 1 (tini forwards it); (exit code, seconds until the container exited)."""
        started = time.monotonic()
        assert docker("kill", "--signal", "TERM", self.name).returncode == 0
        result = docker("wait", self.name, timeout_s=limit_s + 5)
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip()), elapsed

    def remove(self) -> None:
        docker("rm", "--force", "--volumes", self.name)


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


def test_help_runs_in_the_image(image: str) -> None:
    result = docker("run", "--rm", "--network", "none", image, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "produce", "tail", "train"):
        assert f" {command} " in result.stdout


@pytest.mark.parametrize("who", ["chart", "openshift"])
def test_container_scores_exactly_once_turns_healthy_and_stops_on_sigterm(
    who: str,
    image: str,
    kafka_bootstrap: str,
    create_topic: TopicFactory,
    group_id: str,
    containers: list[Container],
) -> None:
    user = chart_user(image) if who == "chart" else OPENSHIFT_USER
    topics = make_topics(create_topic)
    events = list(demo_events(EVENTS, broken_every=BROKEN_EVERY))
    produce(kafka_bootstrap, topics.input, ((e.key, e.value) for e in events))
    valid = {e.key.decode() for e in events if e.broken is None}
    broken = {e.key: e.value for e in events if e.broken is not None}
    assert (len(valid), len(broken)) == (270, 30)

    port = free_port()
    container = Container(
        image,
        user,
        {
            "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "LOAN_SCORER_INPUT_TOPIC": topics.input,
            "LOAN_SCORER_OUTPUT_TOPIC": topics.output,
            "LOAN_SCORER_DLQ_TOPIC": topics.dlq,
            "LOAN_SCORER_GROUP_ID": group_id,
            "LOAN_SCORER_INSTANCE_ID": f"{group_id}-container",
            "LOAN_SCORER_HTTP_PORT": str(port),
        },
    )
    containers.append(container)
    container.wait_healthy()
    assert container.inspect("{{.Config.User}}") == user

    scores = consume(kafka_bootstrap, topics.output, expected=270, group_id=group_id + "-r")
    dead = consume(kafka_bootstrap, topics.dlq, expected=30, group_id=group_id + "-d")
    ids = Counter(decode_loan_scored(r.value).application_id for r in scores)
    assert len(scores) == 270, container.logs()
    assert max(ids.values()) == 1, "an application was scored twice"
    assert set(ids) == valid
    assert len(dead) == 30
    for record in dead:
        assert record.key is not None
        assert record.value == broken[record.key], "dead letter bytes were altered"
        assert parse_dead_letter_headers(list(record.headers)).topic == topics.input

    # The model it serves is the one its card in the image describes (read from /metrics, which
    # needs no credential; /v1/model does, and the image has no key file).
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert metrics.status_code == 200
    served = re.findall(r'loan_scorer_model_info\{[^}]*model_version="([^"]+)"', metrics.text)
    card = json.loads(_file_in_container(container, "/app/model/model_card.json"))
    assert served == [card["model_version"]]
    assert {decode_loan_scored(r.value).model_version for r in scores} == {card["model_version"]}

    grace = grace_period_s()
    code, elapsed = container.stop_with_sigterm(limit_s=grace)
    assert code == 0, container.logs()
    assert elapsed < grace, f"took {elapsed:.1f} s, the chart's grace period is {grace} s"


def test_model_in_the_image_was_trained_on_the_committed_data(image: str) -> None:
    """The card's data fingerprint is the committed data set's, so the model was built from this
    repository's data and not from some other copy."""
    result = docker(
        *("run", "--rm", "--network", "none", "--entrypoint", "cat"),
        image,
        "/app/model/model_card.json",
    )
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    committed = hashlib.sha256((REPO / "training" / "data" / "credit_data.csv").read_bytes())
    assert card["training_data"]["sha256"] == committed.hexdigest()


def _file_in_container(container: Container, path: str) -> str:
    result = docker("exec", container.name, "cat", path)
    assert result.returncode == 0, result.stderr
    return result.stdout
