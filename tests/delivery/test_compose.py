"""docker-compose.yml, checked structurally (the services, the KRaft broker settings, healthchecks,
start order, and the files it mounts), then started for real on the private engine: every service
whose image can be made here (Grafana's cannot) turns healthy, scores reach the output topic and
the scorer's series reach Prometheus, and `down -v` removes it all."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from schemas.decode import decode_loan_scored
from tests.container.engine import (
    KAFKA_LOCAL_IMAGE,
    PROMETHEUS_LOCAL_IMAGE,
    compose_cli,
    docker,
    docker_env,
    require_image,
)
from tests.delivery import contract
from tests.delivery.tools import REPO, find_tool
from tests.integration.scorer_process import free_port
from tests.kafka_io import consume

COMPOSE = REPO / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return dict(document["services"])


VARIABLE = re.compile(r"\$\{(?P<name>[A-Z_]+):-(?P<default>[^}]+)\}")


def variable(value: str) -> tuple[str, str] | None:
    """(NAME, default) of a `${NAME:-default}` value, None for a plain value."""
    match = VARIABLE.fullmatch(value)
    return (match["name"], match["default"]) if match else None


def test_variable_reads_the_name_and_default_of_an_interpolation() -> None:
    assert variable("${KAFKA_IMAGE:-apache/kafka:4.1.1}") == ("KAFKA_IMAGE", "apache/kafka:4.1.1")
    assert variable("apache/kafka:4.1.1") is None
    assert variable("${KAFKA_IMAGE}") is None  # no default: a machine without it would break


def test_the_stack(services: dict[str, Any]) -> None:
    assert set(services) == {"kafka", "topic-init", "scorer", "producer", "prometheus", "grafana"}
    # The upstream images stay the defaults; a machine without a registry overrides the variables.
    assert variable(services["kafka"]["image"]) == ("KAFKA_IMAGE", "apache/kafka:4.1.1")
    assert variable(services["topic-init"]["image"]) == ("KAFKA_IMAGE", "apache/kafka:4.1.1")
    assert variable(services["prometheus"]["image"]) == (
        "PROMETHEUS_IMAGE",
        "prom/prometheus:v3.5.0",
    )
    assert variable(services["grafana"]["image"]) == ("GRAFANA_IMAGE", "grafana/grafana:12.3.1")
    for name in ("scorer", "producer"):
        assert services[name]["build"]["context"] == "."
        assert services[name]["image"] == "loan-scorer:local"
    assert (REPO / "Dockerfile").is_file()
    assert services["scorer"]["command"] == ["run"]
    assert services["producer"]["command"][0] == "produce"
    for name, service in services.items():
        image = (variable(service["image"]) or ("", service["image"]))[1]
        assert ":" in image, f"{name}: image without a tag"
        assert not image.endswith(":latest"), f"{name}: unpinned image"


def test_kafka_runs_kraft_single_node_with_transactions(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == 0
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # The host listener advertises the host port it is published on, whatever that port is.
    published = services["kafka"]["ports"][0].split(":")[0]
    assert f"HOST://localhost:{published}" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_topic_init_creates_the_topics(services: dict[str, Any]) -> None:
    script = services["topic-init"]["command"][0]
    assert "create loan-applications 6" in script
    assert "create loan-scores " in script
    assert "create loan-applications.dlq " in script
    assert services["topic-init"]["restart"] == "no"


@pytest.mark.parametrize(
    ("service", "dependency", "condition"),
    [
        ("topic-init", "kafka", "service_healthy"),
        ("scorer", "topic-init", "service_completed_successfully"),
        ("producer", "scorer", "service_healthy"),
        ("prometheus", "scorer", "service_healthy"),
        ("grafana", "prometheus", "service_healthy"),
    ],
)
def test_start_order(
    services: dict[str, Any], service: str, dependency: str, condition: str
) -> None:
    assert services[service]["depends_on"][dependency]["condition"] == condition


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in ("kafka", "scorer", "prometheus", "grafana"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert check["retries"] >= 3, name
    assert "/readyz" in " ".join(services["scorer"]["healthcheck"]["test"])
    # The producer serves no HTTP, so the image's /healthz check is switched off on purpose.
    assert services["producer"]["healthcheck"] == {"disable": True}


def test_scorer_is_hardened_and_drains_before_sigkill(services: dict[str, Any]) -> None:
    scorer = services["scorer"]
    assert scorer["read_only"] is True
    assert scorer["tmpfs"] == ["/tmp"]  # noqa: S108  # the container path under test
    assert scorer["cap_drop"] == ["ALL"]
    assert scorer["security_opt"] == ["no-new-privileges:true"]
    grace = int(scorer["stop_grace_period"].removesuffix("s"))
    assert grace > int(scorer["environment"]["LOAN_SCORER_SHUTDOWN_TIMEOUT_S"])


def test_the_scorer_state_is_on_a_named_volume(services: dict[str, Any]) -> None:
    """The root is read-only, so RocksDB's directory is a volume: a named one, which survives
    `docker compose restart` (the scorer then reads only the changelog's tail), at the directory
    the image names."""
    scorer = services["scorer"]
    state_dir = scorer["environment"]["LOAN_SCORER_STATE_DIR"]
    image_env = re.search(r"LOAN_SCORER_STATE_DIR=(\S+)", (REPO / "Dockerfile").read_text())
    assert image_env, "the Dockerfile sets LOAN_SCORER_STATE_DIR"
    assert state_dir == image_env[1]
    mounts = {
        target: source for source, target in (volume.split(":")[:2] for volume in scorer["volumes"])
    }
    assert mounts[state_dir] == "scorer-state"
    document = yaml.safe_load(COMPOSE.read_text())
    assert "scorer-state" in document["volumes"], "a named volume, not a host directory"
    assert scorer["read_only"] is True


def test_environment_uses_only_the_settings_contract(services: dict[str, Any]) -> None:
    for name in ("scorer", "producer"):
        names = set(services[name]["environment"])
        assert names <= contract.ENVIRONMENT, names - contract.ENVIRONMENT
    assert services["scorer"]["environment"]["LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_mounted_files_exist_and_match_the_chart(services: dict[str, Any]) -> None:
    mounted = {}
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source, target = volume.split(":")[:2]
            path = REPO / source
            assert path.exists(), f"{name} mounts {source}, which does not exist"
            mounted[target] = path
    assert (
        mounted["/etc/prometheus/alerts.yml"].read_bytes()
        == (REPO / "helm" / "loan-scorer" / "files" / "alerts.yml").read_bytes()
    )
    dashboards = mounted["/var/lib/grafana/dashboards"]
    assert (dashboards / "loan-scorer.json").read_bytes() == (
        REPO / "helm" / "loan-scorer" / "files" / "loan-scorer.json"
    ).read_bytes()
    provider = yaml.safe_load(
        (mounted["/etc/grafana/provisioning/dashboards"] / "loan-scorer.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load(
        (mounted["/etc/grafana/provisioning/datasources"] / "prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    prometheus = yaml.safe_load(
        (REPO / "observability" / "prometheus" / "prometheus.yml").read_text()
    )
    assert prometheus["rule_files"] == ["alerts.yml"]
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["scorer:8000"]


def test_the_runbook_base_is_a_compose_variable_prometheus_applies(
    services: dict[str, Any], tmp_path: Path
) -> None:
    """The prometheus service's own start command, run here by sh with its container paths moved
    under tmp_path and Prometheus replaced by promtool: the rules it would load link to
    RUNBOOK_BASE_URL, and are still valid rules."""
    prometheus = services["prometheus"]
    name, default = variable(prometheus["environment"]["RUNBOOK_BASE_URL"]) or ("", "")
    assert name == "RUNBOOK_BASE_URL"
    assert f"{default}#" in (REPO / "observability" / "prometheus" / "alerts.yml").read_text()
    assert prometheus["entrypoint"] == ["/bin/sh", "-c"]
    (script,) = prometheus["command"]
    source, out = tmp_path / "etc", tmp_path / "config"
    source.mkdir()
    for volume in prometheus["volumes"]:
        host, container = volume.split(":")[:2]
        (source / Path(container).name).write_bytes((REPO / host).read_bytes())
    promtool = find_tool("promtool")
    local = (
        script.replace("$$", "$")  # compose's escape for a literal $
        .replace("/etc/prometheus/", f"{source}/")
        .replace("/tmp/prometheus-config", str(out))  # noqa: S108 (the container's path, replaced)
        .replace("exec prometheus --config.file=", f"exec {promtool} check config ")
    )
    local = local.split(" --storage.tsdb")[0]  # promtool takes the config file only
    base = "https://wiki.bank.example/ops/loan-scorer-runbook"
    result = subprocess.run(
        ["sh", "-c", local],
        env={**os.environ, "RUNBOOK_BASE_URL": base},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((out / "alerts.yml").read_text())["groups"]
    urls = [
        rule["annotations"]["runbook_url"]
        for group in rules
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert urls
    assert all(url.startswith(f"{base}#loanscorer") for url in urls), urls


STACK = ["kafka", "topic-init", "scorer", "producer", "prometheus"]  # all but Grafana
HEALTHY = {"kafka", "scorer", "prometheus"}


class Stack:
    """One compose project of this file on the private engine, under a name of its own."""

    def __init__(self) -> None:
        self.project = f"loan-scorer-test-{uuid.uuid4().hex[:8]}"
        self.ports = {
            name: str(free_port())
            for name in ("KAFKA_HOST_PORT", "SCORER_HOST_PORT", "PROMETHEUS_HOST_PORT")
        }
        self.env = {
            **docker_env(),
            "KAFKA_IMAGE": os.environ.get("KAFKA_IMAGE", KAFKA_LOCAL_IMAGE),
            "PROMETHEUS_IMAGE": os.environ.get("PROMETHEUS_IMAGE", PROMETHEUS_LOCAL_IMAGE),
            "GRAFANA_HOST_PORT": str(free_port()),
            **self.ports,
        }

    def compose(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [compose_cli(), "--project-name", self.project, "--file", str(COMPOSE), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )

    def states(self) -> dict[str, dict[str, Any]]:
        result = self.compose("ps", "--all", "--format", "json")
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}

    def wait_healthy(self, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        states: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            states = self.states()
            init = states.get("topic-init", {})
            if init.get("State") == "exited":
                assert init.get("ExitCode") == 0, self.logs("topic-init")
            crashing = [name for name, row in states.items() if row.get("State") == "restarting"]
            assert not crashing, f"{crashing} crash and restart:\n{self.logs(*crashing)}"
            healthy = {name for name, row in states.items() if row.get("Health") == "healthy"}
            if healthy >= HEALTHY and init.get("State") == "exited":
                return
            time.sleep(2)
        raise AssertionError(f"not healthy within {timeout_s} s: {states}\n{self.logs()}")

    def logs(self, *services: str) -> str:
        result = self.compose("logs", "--no-color", "--tail", "40", *services)
        return (result.stdout + result.stderr)[-8000:]

    def containers(self) -> list[str]:
        result = docker(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={self.project}"
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()


def _prometheus_series(port: str, query: str, timeout_s: float = 90) -> list[dict[str, Any]]:
    """The result of an instant query through Prometheus' own HTTP API, once non-empty."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5
        ).json()
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        if result or time.monotonic() > deadline:
            return result
        time.sleep(2)


@pytest.mark.container
@pytest.mark.timeout(600)
def test_the_stack_starts_scores_and_is_scraped_then_tears_down() -> None:
    require_image("loan-scorer:local")
    stack = Stack()
    for image in (stack.env["KAFKA_IMAGE"], stack.env["PROMETHEUS_IMAGE"]):
        require_image(image)
    try:
        up = stack.compose("up", "--detach", "--no-build", *STACK)
        assert up.returncode == 0, up.stderr + stack.logs()
        stack.wait_healthy()

        bootstrap = f"localhost:{stack.ports['KAFKA_HOST_PORT']}"
        scores = consume(bootstrap, "loan-scores", expected=20, group_id=stack.project, settle_s=0)
        assert len(scores) >= 20, stack.logs("scorer", "producer")
        decoded = [decode_loan_scored(record.value) for record in scores]
        assert all(score.decision in {"approve", "review", "decline"} for score in decoded)

        port = stack.ports["PROMETHEUS_HOST_PORT"]
        up_series = _prometheus_series(port, 'up{job="loan-scorer"}')
        assert [s["value"][1] for s in up_series] == ["1"], up_series
        scored = _prometheus_series(port, "sum(loan_scorer_events_scored_total)")
        assert scored, "no loan_scorer_events_scored_total series in Prometheus"
        assert float(scored[0]["value"][1]) > 0, scored
        rules = httpx.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5).json()
        assert rules["data"]["groups"], "Prometheus loaded no alert rules"
    finally:
        down = stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30")
    assert down.returncode == 0, down.stderr
    assert stack.containers() == [], "compose down left containers behind"
