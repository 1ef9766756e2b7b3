"""docker-compose.yml, checked structurally (no Docker engine here for `docker compose config`):
the services, the KRaft broker settings, healthchecks, start order, and the files it mounts."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.delivery import contract
from tests.delivery.tools import REPO

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
