"""The Helm chart: lint, render with every combination that matters, validate what it renders.

Built-in kinds are validated against the Kubernetes OpenAPI schemas (kubernetes-validate ships them
offline) for the oldest Kubernetes the chart supports and the newest the validator knows. Custom
resources (ServiceMonitor, PrometheusRule, ScaledObject, TriggerAuthentication) have no schema
there, so their apiVersion, kind and required fields are checked here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.config.settings import Settings
from tests.delivery import contract
from tests.delivery.tools import REPO, assert_schema_refused, explain, find_tool, run

CHART = REPO / "helm" / "loan-scorer"
ALL_ON_KEDA = CHART / "ci" / "all-on-keda-values.yaml"
ALL_ON_HPA = CHART / "ci" / "all-on-hpa-values.yaml"
ALERTS = REPO / "observability" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "observability" / "grafana" / "dashboards" / "loan-scorer.json"
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")  # Chart.yaml's kubeVersion floor, and the newest
RELEASE = "scorer"

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def helm() -> Path:
    return find_tool("helm")


def _template(helm: Path, *args: str) -> list[Manifest]:
    result = run([helm, "template", RELEASE, CHART, "--namespace", "credit-risk", *args])
    assert result.returncode == 0, explain(result)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _template_fails(helm: Path, *args: str) -> str:
    result = run([helm, "template", RELEASE, CHART, *args])
    assert result.returncode != 0, f"expected the chart to refuse to render:\n{explain(result)}"
    return result.stderr


def _by_kind(manifests: list[Manifest]) -> dict[str, list[Manifest]]:
    kinds: dict[str, list[Manifest]] = {}
    for manifest in manifests:
        kinds.setdefault(manifest["kind"], []).append(manifest)
    return kinds


def _one(manifests: list[Manifest], kind: str, suffix: str = "") -> Manifest:
    matches = [
        m
        for m in manifests
        if m["kind"] == kind and m["metadata"]["name"] == f"{RELEASE}-loan-scorer{suffix}"
    ]
    assert len(matches) == 1, f"{kind} {suffix!r}: {len(matches)} rendered"
    return matches[0]


@pytest.fixture(scope="module")
def default_render(helm: Path) -> list[Manifest]:
    return _template(helm)


@pytest.fixture(scope="module")
def keda_render(helm: Path) -> list[Manifest]:
    return _template(helm, "-f", str(ALL_ON_KEDA))


@pytest.fixture(scope="module")
def hpa_render(helm: Path) -> list[Manifest]:
    return _template(helm, "-f", str(ALL_ON_HPA))


RENDERS = ("default_render", "keda_render", "hpa_render")


@pytest.mark.parametrize("values", [None, ALL_ON_KEDA, ALL_ON_HPA], ids=["default", "keda", "hpa"])
def test_helm_lint_strict(helm: Path, values: Path | None) -> None:
    args: list[str | Path] = [helm, "lint", "--strict", CHART]
    if values:
        args += ["-f", values]
    result = run(args)
    assert result.returncode == 0, explain(result)


def test_default_render_has_the_core_objects_only(default_render: list[Manifest]) -> None:
    assert sorted(_by_kind(default_render)) == [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",  # closed by default (issue 12)
        "Pod",  # the `helm test` pod
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    assert not [m for m in default_render if m["kind"] == "Secret"], "the chart holds no secrets"


def test_every_toggle_on_renders_every_optional_object(
    keda_render: list[Manifest], hpa_render: list[Manifest]
) -> None:
    keda_kinds, hpa_kinds = set(_by_kind(keda_render)), set(_by_kind(hpa_render))
    optional = {"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Ingress"}
    assert optional | {"ScaledObject", "TriggerAuthentication"} <= keda_kinds
    assert "HorizontalPodAutoscaler" not in keda_kinds
    assert optional | {"HorizontalPodAutoscaler"} <= hpa_kinds
    assert "ScaledObject" not in hpa_kinds
    for render in (keda_render, hpa_render):
        _one(render, "ConfigMap", "-dashboard")
        assert not [m for m in render if m["kind"] == "Secret"]


def _validate(manifests: list[Manifest], tmp_path: Path, version: str) -> None:
    validator = find_tool("kubernetes-validate")
    builtin = [
        m
        for m in manifests
        if "." not in m["apiVersion"].split("/")[0]
        or m["apiVersion"].split("/")[0].endswith(".k8s.io")
    ]
    assert builtin
    path = tmp_path / f"rendered-{version}.yaml"
    path.write_text(yaml.safe_dump_all(builtin))
    result = run([validator, "--strict", "--kubernetes-version", version, path])
    assert result.returncode == 0, explain(result)
    assert result.stdout.count(" passed for resource ") == len(builtin), explain(result)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("render", RENDERS)
def test_rendered_objects_are_valid_kubernetes(
    render: str, version: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    _validate(request.getfixturevalue(render), tmp_path, version)


def test_the_validator_rejects_an_invalid_deployment(
    default_render: list[Manifest], tmp_path: Path
) -> None:
    """A negative control: the schema validation above is not a no-op."""
    validator = find_tool("kubernetes-validate")
    broken = json.loads(json.dumps(_one(default_render, "Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    broken["spec"]["replicaz"] = 2
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = run([validator, "--strict", path])
    assert result.returncode != 0, explain(result)


def _workload(manifests: list[Manifest]) -> Manifest:
    """The scorer's Deployment or StatefulSet (exactly one of them is rendered)."""
    (workload,) = [m for m in manifests if m["kind"] in {"Deployment", "StatefulSet"}]
    assert workload["metadata"]["name"] == f"{RELEASE}-loan-scorer"
    return workload


def _pod_spec(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = _workload(manifests)["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("render", RENDERS)
def test_pod_is_hardened(render: str, request: pytest.FixtureRequest) -> None:
    pod = _pod_spec(request.getfixturevalue(render))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = "/tmp"  # noqa: S108  # the container path under test, not a file this test writes
    assert "emptyDir" in volumes[mounts[tmp]], f"{tmp} is the writable emptyDir"


@pytest.mark.parametrize("render", RENDERS)
def test_probes_ports_and_graceful_shutdown(render: str, request: pytest.FixtureRequest) -> None:
    manifests = request.getfixturevalue(render)
    pod = _pod_spec(manifests)
    (container,) = pod["containers"]
    assert container["args"] == ["run"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert container["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"},
        {"name": "ops", "containerPort": 8081, "protocol": "TCP"},
    ]
    config = _one(manifests, "ConfigMap")["data"]
    shutdown = int(config["LOAN_SCORER_SHUTDOWN_TIMEOUT_S"])
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] > shutdown + pre_stop


@pytest.mark.parametrize("render", RENDERS)
def test_environment_uses_only_the_settings_contract(
    render: str, request: pytest.FixtureRequest
) -> None:
    manifests = request.getfixturevalue(render)
    config = _one(manifests, "ConfigMap")["data"]
    (container,) = _pod_spec(manifests)["containers"]
    names = set(config) | {e["name"] for e in container.get("env") or []}
    assert names <= contract.ENVIRONMENT, names - contract.ENVIRONMENT
    assert isinstance(json.loads(config["LOAN_SCORER_KAFKA_EXTRA_CONFIG"]), dict)


def test_sasl_credentials_come_from_the_referenced_secret(keda_render: list[Manifest]) -> None:
    (container,) = _pod_spec(keda_render)["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name, key in (
        ("LOAN_SCORER_KAFKA_SASL_USERNAME", "username"),
        ("LOAN_SCORER_KAFKA_SASL_PASSWORD", "password"),
    ):
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "loan-scorer-kafka-credentials",
            "key": key,
        }
        assert "value" not in env[name]
    extra = json.loads(_one(keda_render, "ConfigMap")["data"]["LOAN_SCORER_KAFKA_EXTRA_CONFIG"])
    assert extra == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "ssl.ca.location": "/etc/loan-scorer/kafka-tls/ca.crt",
    }


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler(
    default_render: list[Manifest], keda_render: list[Manifest], hpa_render: list[Manifest]
) -> None:
    assert _one(default_render, "Deployment")["spec"]["replicas"] == 2
    assert "replicas" not in _workload(keda_render)["spec"]
    assert "replicas" not in _workload(hpa_render)["spec"]


def test_scaled_object_scales_the_deployment_on_consumer_lag(keda_render: list[Manifest]) -> None:
    scaled = _one(keda_render, "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-loan-scorer",
    }
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= 12  # the values' partitions
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} <= set(metadata)
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA wants strings"
    assert trigger["authenticationRef"]["name"] == f"{RELEASE}-loan-scorer"
    auth = _one(keda_render, "TriggerAuthentication")
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} == {
        "username",
        "password",
        "ca",
    }


def test_service_monitor_scrapes_the_ops_port(keda_render: list[Manifest]) -> None:
    monitor = _one(keda_render, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = _one(keda_render, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][1]["name"] == "ops"
    assert endpoint["path"] == "/metrics"


def test_prometheus_rule_wraps_the_tested_rules_file(keda_render: list[Manifest]) -> None:
    rule = _one(keda_render, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]


def test_the_runbook_links_point_at_the_configured_base(helm: Path) -> None:
    base = "https://wiki.bank.example/ops/loan-scorer-runbook"
    rendered = _template(
        helm,
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        f"metrics.prometheusRule.runbookBaseUrl={base}",
    )
    groups = _one(rendered, "PrometheusRule")["spec"]["groups"]
    urls = [
        rule["annotations"]["runbook_url"] for g in groups for rule in g["rules"] if "alert" in rule
    ]
    expected = [
        rule["annotations"]["runbook_url"].split("#")[1]
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert urls == [f"{base}#{anchor}" for anchor in expected]


def test_dashboard_configmap_holds_the_compose_dashboard(keda_render: list[Manifest]) -> None:
    dashboard = _one(keda_render, "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["loan-scorer.json"]) == json.loads(DASHBOARD.read_text())


@pytest.mark.parametrize(
    ("copy", "original"),
    [(CHART / "files" / "alerts.yml", ALERTS), (CHART / "files" / "loan-scorer.json", DASHBOARD)],
)
def test_chart_files_are_byte_identical_copies(copy: Path, original: Path) -> None:
    assert copy.read_bytes() == original.read_bytes(), (
        f"{copy.relative_to(REPO)} differs from {original.relative_to(REPO)}; "
        f"run: cp {original.relative_to(REPO)} {copy.relative_to(REPO)}"
    )


def test_network_policy_allows_http_in_and_dns_and_kafka_out(keda_render: list[Manifest]) -> None:
    policy = _one(keda_render, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    api, ops = policy["ingress"]
    assert api["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert [peer["namespaceSelector"]["matchLabels"] for peer in api["from"]] == [
        {"kubernetes.io/metadata.name": "crm"},
        {"kubernetes.io/metadata.name": "ingress-nginx"},
    ]
    assert ops["ports"] == [{"port": "ops", "protocol": "TCP"}]
    assert ops["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (9096, "TCP")}
    kafka = policy["egress"][1]
    assert kafka["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


def test_the_default_network_policy_admits_nobody_to_the_api(
    default_render: list[Manifest],
) -> None:
    """Issue 12: closed by default. No ingress rule at all until the values name the clients;
    egress to DNS and the broker ports only."""
    policy = _one(default_render, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == []
    assert (
        policy["podSelector"]["matchLabels"]
        == _workload(default_render)["spec"]["selector"]["matchLabels"]
    )
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (9092, "TCP"), (9093, "TCP")}
    assert not [m for m in default_render if m["kind"] == "Ingress"]


def test_the_default_api_is_authenticated_without_docs(default_render: list[Manifest]) -> None:
    config = _one(default_render, "ConfigMap")["data"]
    assert config["LOAN_SCORER_API_AUTH_ENABLED"] == "true"
    assert config["LOAN_SCORER_API_DOCS_ENABLED"] == "false"
    assert config["LOAN_SCORER_HTTP_OPS_PORT"] == "8081"
    assert float(config["LOAN_SCORER_API_RATE_PER_S"]) > 0
    settings = Settings.model_validate(
        {name.removeprefix("LOAN_SCORER_").lower(): value for name, value in config.items()}
    )
    assert settings.api_auth_enabled is True
    assert settings.api_docs_enabled is False
    assert settings.http_ops_port == 8081


def test_credentials_and_certificate_are_mounted_from_secrets(
    keda_render: list[Manifest],
) -> None:
    """Whole-directory Secret volumes (never subPath, which would freeze a rotated key file)."""
    config = _one(keda_render, "ConfigMap")["data"]
    pod = _pod_spec(keda_render)
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for volume, secret, variable, file in [
        ("api-keys", "loan-scorer-api-keys", "LOAN_SCORER_API_KEYS_FILE", "api-keys"),
        ("jwks", "loan-scorer-jwks", "LOAN_SCORER_JWT_JWKS_FILE", "jwks.json"),
        ("api-tls", "loan-scorer-api-tls", "LOAN_SCORER_HTTP_TLS_CERT_FILE", "tls.crt"),
    ]:
        assert volumes[volume]["secret"]["secretName"] == secret
        assert "subPath" not in mounts[volume]
        assert mounts[volume]["readOnly"] is True
        assert config[variable] == f"{mounts[volume]['mountPath']}/{file}"
    assert config["LOAN_SCORER_JWT_ISSUER"] == "https://login.bank.example/realms/credit"
    assert config["LOAN_SCORER_JWT_AUDIENCE"] == "loan-scorer"


def test_the_ingress_serves_the_api_port_with_tls(keda_render: list[Manifest]) -> None:
    ingress = _one(keda_render, "Ingress")["spec"]
    assert ingress["tls"] == [
        {"hosts": ["loan-scorer.bank.example"], "secretName": "loan-scorer-api-tls"}
    ]
    (rule,) = ingress["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/v1"
    assert path["backend"]["service"]["port"] == {"name": "http"}


def test_pdb_is_on_by_default(default_render: list[Manifest]) -> None:
    pdb = _one(default_render, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "keda.enabled=true", "--set", "autoscaling.enabled=true"],
            "mutually exclusive",
        ),
        (
            ["--set", "keda.enabled=true", "--set", "keda.maxReplicaCount=7"],
            "keda.maxReplicaCount (7) is above kafka.inputPartitions (6)",
        ),
        (
            ["--set", "autoscaling.enabled=true", "--set", "autoscaling.maxReplicas=9"],
            "autoscaling.maxReplicas (9) is above kafka.inputPartitions (6)",
        ),
        (["--set", "replicaCount=8"], "replicaCount (8) is above kafka.inputPartitions (6)"),
        (["--set", "terminationGracePeriodSeconds=25"], "must exceed"),
        (
            ["--set", "kafka.extraConfig.security\\.protocol=SASL_SSL"],
            "kafka.auth.existingSecret is empty",
        ),
        (["--set", "kafka.extraConfig.sasl\\.password=hunter2"], "sasl.password"),
        (["--set", "securityContext.allowPrivilegeEscalation=true"], "allowPrivilegeEscalation"),
        (["--set", "podSecurityContext.runAsNonRoot=false"], "runAsNonRoot"),
        (["--set", "replicas=3"], ("replicas",)),
        (["--set", "scorer.delivery=exactly-twice"], "delivery"),
        (["--set", "workload.kind=DaemonSet"], ("workload", "kind")),
        (["--set", "scorer.opsPort=8000"], "scorer.opsPort must differ"),
        (
            ["--set", "api.auth.jwt.existingSecret=jwks"],
            "api.auth.jwt.existingSecret needs api.auth.jwt.issuer",
        ),
        (
            ["--set", "policy.content=x", "--set", "policy.existingConfigMap=p"],
            "policy.content and policy.existingConfigMap are mutually exclusive",
        ),
        (
            ["--set", "metrics.prometheusRule.enabled=true", "--set", "fullnameOverride=scorer"],
            'select scrape jobs whose name contains "loan-scorer"',
        ),
        (["--set", "state.sizeLimt=1Gi"], ("state", "sizeLimt")),
        (
            ["--set", "state.persistence.enabled=true"],
            "state.persistence.enabled needs workload.kind: StatefulSet",
        ),
        (["--set", "state.cacheMb=16"], ("state", "cacheMb")),
        (["--set", "state.dir=/tmp"], ("state", "dir")),
    ],
    ids=[
        "keda-and-hpa",
        "keda-above-partitions",
        "hpa-above-partitions",
        "replicas-above-partitions",
        "grace-period-too-short",
        "sasl-without-secret",
        "password-in-extra-config",
        "privilege-escalation",
        "root",
        "unknown-value",
        "bad-enum",
        "unknown-workload-kind",
        "ops-port-is-the-api-port",
        "jwks-without-issuer",
        "policy-twice",
        "alerts-cannot-find-the-job",
        "unknown-state-value",
        "state-claim-without-statefulset",
        "state-cache-too-small",
        "state-dir-on-tmp",
    ],
)
def test_chart_refuses_unsafe_values(
    helm: Path, args: list[str], message: str | tuple[str, ...]
) -> None:
    """A string is the chart's own message (its `fail` calls: ours, worded by us); a tuple names
    the key values.schema.json refused (helm's wording, which changes between versions)."""
    if isinstance(message, tuple):
        assert_schema_refused(run([helm, "template", RELEASE, CHART, *args]), *message)
    else:
        assert message in _template_fails(helm, *args)


def _values_yaml_keys() -> dict[str, bool]:
    """Each key of values.yaml as a dotted path, and whether a comment documents it (a comment
    block right above it, or one on its line). List items are not keys."""
    documented: dict[str, bool] = {}
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in (CHART / "values.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "-")) and ":" in stripped:
            indent = len(line) - len(line.lstrip())
            while stack and stack[-1][0] >= indent:
                stack.pop()
            key = stripped.split(":", 1)[0]
            dotted = ".".join([name for _, name in stack] + [key])
            documented[dotted] = previous.startswith("#") or " # " in stripped
            stack.append((indent, key))
        previous = stripped
    return documented


def test_every_value_is_documented_and_in_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = _values_yaml_keys()

    def leaves(node: dict[str, Any], schema_node: dict[str, Any], path: str) -> Iterator[str]:
        assert schema_node.get("additionalProperties") is False, f"{path or 'root'}: open schema"
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            assert key in schema_node.get("properties", {}), f"{here} is not in the schema"
            child = schema_node["properties"][key]
            if isinstance(value, dict) and child.get("additionalProperties") is False:
                yield from leaves(value, child, here)
            else:
                yield here

    undocumented = [path for path in leaves(values, schema, "") if not documented[path]]
    assert not undocumented, f"values without a comment: {undocumented}"


def test_the_default_workload_is_a_deployment_with_the_pod_name_as_instance_id(
    default_render: list[Manifest],
) -> None:
    assert _workload(default_render)["kind"] == "Deployment"
    (container,) = _pod_spec(default_render)["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LOAN_SCORER_INSTANCE_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }


def test_a_statefulset_gives_every_pod_a_stable_transactional_id(
    hpa_render: list[Manifest],
) -> None:
    """Pod names <fullname>-0, -1, ... survive restarts; the instance id (and so the
    transactional id GROUP_ID-INSTANCE_ID) is the pod name, so a restarted pod fences its zombie."""
    statefulset = _workload(hpa_render)
    assert statefulset["kind"] == "StatefulSet"
    spec = statefulset["spec"]
    assert spec["serviceName"] == _one(hpa_render, "Service")["metadata"]["name"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert "strategy" not in spec  # a Deployment-only field
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LOAN_SCORER_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    target = _one(hpa_render, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", f"{RELEASE}-loan-scorer")


def test_keda_scales_a_statefulset_too(helm: Path) -> None:
    rendered = _template(helm, "-f", str(ALL_ON_KEDA), "--set", "workload.kind=StatefulSet")
    target = _one(rendered, "ScaledObject")["spec"]["scaleTargetRef"]
    assert target["kind"] == "StatefulSet"


POLICY = REPO / "scoring" / "policy" / "policy-v2.yaml"


def _policy_render(helm: Path, policy: Path) -> list[Manifest]:
    return _template(helm, "--set-file", f"policy.content={policy}")


def test_a_policy_file_is_mounted_from_a_configmap_and_loads(helm: Path, tmp_path: Path) -> None:
    from scoring.policy import load_policy

    rendered = _policy_render(helm, POLICY)
    data = _one(rendered, "ConfigMap", "-policy")["data"]
    mounted = tmp_path / "policy.yaml"
    mounted.write_text(data["policy.yaml"])
    assert load_policy(mounted) == load_policy(POLICY), "the scorer reads the policy it was given"

    settings = _one(rendered, "ConfigMap")["data"]
    assert settings["LOAN_SCORER_POLICY_FILE"] == "/etc/loan-scorer/policy/policy.yaml"
    pod = _pod_spec(rendered)
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["policy"] == {
        "name": "policy",
        "mountPath": "/etc/loan-scorer/policy",
        "readOnly": True,
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["policy"]["configMap"]["name"] == f"{RELEASE}-loan-scorer-policy"


def test_a_policy_change_rolls_the_pods(helm: Path, tmp_path: Path) -> None:
    changed = tmp_path / "policy.yaml"
    changed.write_text(POLICY.read_text().replace("approve_below: 0.20", "approve_below: 0.18"))
    before = _workload(_policy_render(helm, POLICY))["spec"]["template"]["metadata"]
    after = _workload(_policy_render(helm, changed))["spec"]["template"]["metadata"]
    assert before["annotations"]["checksum/policy"] != after["annotations"]["checksum/policy"]


def test_without_a_policy_the_image_bundled_one_is_used(default_render: list[Manifest]) -> None:
    assert "LOAN_SCORER_POLICY_FILE" not in _one(default_render, "ConfigMap")["data"]
    assert not [m for m in default_render if m["metadata"]["name"].endswith("-policy")]


def test_where_a_new_group_starts_is_a_value(default_render: list[Manifest], helm: Path) -> None:
    assert _one(default_render, "ConfigMap")["data"]["LOAN_SCORER_AUTO_OFFSET_RESET"] == "earliest"
    latest = _template(helm, "--set", "scorer.autoOffsetReset=latest")
    assert _one(latest, "ConfigMap")["data"]["LOAN_SCORER_AUTO_OFFSET_RESET"] == "latest"
    assert "autoOffsetReset" in _template_fails(helm, "--set", "scorer.autoOffsetReset=middle")


def test_a_schema_registry_url_and_its_credentials_come_from_values_and_a_secret(
    helm: Path, default_render: list[Manifest]
) -> None:
    url = "https://registry.example.com/apis/ccompat/v7"
    manifests = _template(
        helm,
        "--set",
        f"schemaRegistry.url={url}",
        "--set",
        "schemaRegistry.auth.existingSecret=registry-credentials",
    )
    assert _one(manifests, "ConfigMap")["data"]["LOAN_SCORER_SCHEMA_REGISTRY_URL"] == url
    (container,) = _pod_spec(manifests)["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name, key in (
        ("LOAN_SCORER_SCHEMA_REGISTRY_USERNAME", "username"),
        ("LOAN_SCORER_SCHEMA_REGISTRY_PASSWORD", "password"),
    ):
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "registry-credentials",
            "key": key,
        }
        assert "value" not in env[name]
    # Without a URL nothing about a registry is rendered: plain JSON, as before.
    assert "LOAN_SCORER_SCHEMA_REGISTRY_URL" not in _one(default_render, "ConfigMap")["data"]
    (default_container,) = _pod_spec(default_render)["containers"]
    assert not any("SCHEMA_REGISTRY" in e["name"] for e in default_container.get("env") or [])


def test_a_registered_model_is_served_by_alias(default_render: list[Manifest], helm: Path) -> None:
    """Promotion in the cluster is a values change: modelUri names the alias, the tracking
    server resolves it, and fetched models go to the one writable place, /tmp."""
    assert "LOAN_SCORER_MODEL_URI" not in _one(default_render, "ConfigMap")["data"]
    rendered = _template(
        helm,
        "--set",
        "scorer.modelUri=models:/loan-scorer@champion",
        "--set",
        "scorer.mlflowTrackingUri=https://mlflow.internal",
    )
    config = _one(rendered, "ConfigMap")["data"]
    assert config["LOAN_SCORER_MODEL_URI"] == "models:/loan-scorer@champion"
    assert config["MLFLOW_TRACKING_URI"] == "https://mlflow.internal"
    assert config["LOAN_SCORER_MLFLOW_HOME"] == "/tmp/mlflow"  # noqa: S108  # the pod's emptyDir
    assert "scorer.mlflowTrackingUri is required" in _template_fails(
        helm, "--set", "scorer.modelUri=models:/loan-scorer@champion"
    )
    assert "modelUri" in _template_fails(helm, "--set", "scorer.modelUri=s3://bucket/model")


OPENSHIFT = CHART / "ci" / "openshift-values.yaml"


def test_openshift_values_leave_user_and_groups_to_the_platform(helm: Path) -> None:
    """OpenShift's restricted SCC refuses a pod pinning a UID outside the namespace's range."""
    result = run([helm, "lint", "--strict", CHART, "-f", OPENSHIFT])
    assert result.returncode == 0, explain(result)
    manifests = _template(helm, "-f", str(OPENSHIFT))
    pods = [_pod_spec(manifests)["securityContext"]]
    (hook,) = _template(
        helm, "-f", str(OPENSHIFT), "--show-only", "templates/tests/test-readyz.yaml"
    )
    pods.append(hook["spec"]["securityContext"])
    for context in pods:
        assert context["runAsNonRoot"] is True
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(context), context
    (container,) = _pod_spec(manifests)["containers"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert "runAsUser" not in container["securityContext"]


@pytest.mark.parametrize("key", ["podSecurityContext.runAsUser", "securityContext.runAsUser"])
def test_the_schema_refuses_uid_zero(helm: Path, key: str) -> None:
    assert "minimum: got 0, want 1" in _template_fails(helm, "--set", f"{key}=0")


STATE_DIR = "/var/lib/loan-scorer/state"


def _state_volume(manifests: list[Manifest]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The container's mount of the state directory (the one LOAN_SCORER_STATE_DIR names), and
    the pod volume behind it (None when a volumeClaimTemplate provides it)."""
    config = _one(manifests, "ConfigMap")["data"]
    pod = _pod_spec(manifests)
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "state"]
    assert mount["mountPath"] == config["LOAN_SCORER_STATE_DIR"]
    assert not mount.get("readOnly")
    volumes = [v for v in pod["volumes"] if v["name"] == "state"]
    return mount, volumes[0] if volumes else None


@pytest.mark.parametrize("render", RENDERS)
def test_the_state_is_an_emptydir_by_default(render: str, request: pytest.FixtureRequest) -> None:
    """The read-only root leaves nowhere for RocksDB: the state directory is a volume of its
    own, an emptyDir with a size limit unless persistence is on (a StatefulSet included)."""
    manifests = request.getfixturevalue(render)
    config = _one(manifests, "ConfigMap")["data"]
    assert config["LOAN_SCORER_STATE_DIR"] == STATE_DIR
    assert config["LOAN_SCORER_STATE_CACHE_MB"] == "64"
    mount, volume = _state_volume(manifests)
    assert mount == {"name": "state", "mountPath": STATE_DIR}
    assert volume == {"name": "state", "emptyDir": {"sizeLimit": "2Gi"}}
    assert "volumeClaimTemplates" not in _workload(manifests)["spec"]
    settings = Settings.model_validate(
        {
            "state_dir": config["LOAN_SCORER_STATE_DIR"],
            "state_cache_mb": config["LOAN_SCORER_STATE_CACHE_MB"],
        }
    )
    assert (str(settings.state_dir), settings.state_cache_mb) == (STATE_DIR, 64)


def test_state_values_reach_the_scorer(helm: Path) -> None:
    rendered = _template(
        helm,
        "--set",
        "state.dir=/data/state",
        "--set",
        "state.cacheMb=256",
        "--set",
        "state.sizeLimit=8Gi",
    )
    config = _one(rendered, "ConfigMap")["data"]
    assert (config["LOAN_SCORER_STATE_DIR"], config["LOAN_SCORER_STATE_CACHE_MB"]) == (
        "/data/state",
        "256",
    )
    mount, volume = _state_volume(rendered)
    assert mount["mountPath"] == "/data/state"
    assert volume == {"name": "state", "emptyDir": {"sizeLimit": "8Gi"}}


PERSISTENT_STATE = (
    "--set",
    "workload.kind=StatefulSet",
    "--set",
    "state.persistence.enabled=true",
)


@pytest.fixture(scope="module")
def persistent_render(helm: Path) -> list[Manifest]:
    return _template(helm, *PERSISTENT_STATE, "--set", "state.persistence.size=10Gi")


def test_a_statefulset_with_persistence_claims_a_volume_per_pod(
    persistent_render: list[Manifest],
) -> None:
    """A claim per pod (state-<pod name>), kept across restarts: no emptyDir for the state."""
    statefulset = _workload(persistent_render)
    assert statefulset["kind"] == "StatefulSet"
    mount, volume = _state_volume(persistent_render)
    assert mount == {"name": "state", "mountPath": STATE_DIR}
    assert volume is None, "the claim template provides the state volume, not an emptyDir"
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    assert claim["metadata"]["labels"] == statefulset["spec"]["selector"]["matchLabels"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
    }, "no storageClassName: the cluster's default class"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_persistent_statefulset_is_valid_kubernetes(
    persistent_render: list[Manifest], version: str, tmp_path: Path
) -> None:
    _validate(persistent_render, tmp_path, version)


@pytest.mark.parametrize(("value", "rendered"), [("fast-ssd", "fast-ssd"), ("-", "")])
def test_the_state_claims_storage_class(helm: Path, value: str, rendered: str) -> None:
    manifests = _template(
        helm, *PERSISTENT_STATE, "--set", f"state.persistence.storageClassName={value}"
    )
    (claim,) = _workload(manifests)["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == rendered
