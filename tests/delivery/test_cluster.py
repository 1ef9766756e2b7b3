"""The chart on a real Kubernetes API server (scripts/cluster-local.sh): what linters cannot tell.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real programs, built from
their published Go modules; kwok stands in for the kubelets, so pods are scheduled onto two fake
nodes and reported Running and Ready, but no container runs. So this proves what the API server and
the controllers decide: the objects are accepted (custom resources against the operators' own CRD
schemas), Pod Security "restricted" admits the pods, a Deployment and a StatefulSet roll out, the
PodDisruptionBudget refuses a second eviction, the HPA scales the right workload, and bad values
are refused by helm's schema or by the server. It cannot prove that the image starts, that the
probes answer, or that a NetworkPolicy is enforced (docs/deploy.md, "Kubernetes").

Each test installs into a namespace of its own that enforces Pod Security "restricted", as a
hardened platform does. `make cluster-check` runs this module alone; `make test` runs it too, and
starts the cluster for it when the binaries are built (.ci/run builds them), stopping it after.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.tools import REPO, assert_schema_refused, explain, find_tool, missing, run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CLUSTER_LOCAL = REPO / "scripts" / "cluster-local.sh"
CHART = REPO / "helm" / "loan-scorer"
ALL_ON_KEDA = CHART / "ci" / "all-on-keda-values.yaml"
ALL_ON_HPA = CHART / "ci" / "all-on-hpa-values.yaml"
OPENSHIFT = CHART / "ci" / "openshift-values.yaml"
RELEASE = "scorer"
FULLNAME = f"{RELEASE}-loan-scorer"
WAIT = "180s"  # helm --wait and kubectl wait: pods on kwok are Ready in seconds; 2 busy cores
CRD_NAMES = (
    "servicemonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "scaledobjects.keda.sh",
    "triggerauthentications.keda.sh",
)

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Cluster:
    """A running local cluster and the two clients the checks drive it with."""

    kubeconfig: Path
    kubectl_path: Path
    helm_path: Path
    crds_dir: Path

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self.kubectl_path),
                "--kubeconfig",
                str(self.kubeconfig),
                # Discovery cached beside the kubeconfig, not in ~/.kube, dies with the cluster.
                "--cache-dir",
                str(self.kubeconfig.parent / "kubectl-cache"),
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )

    def helm(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return run([self.helm_path, "--kubeconfig", self.kubeconfig, *args])

    def get(self, *args: str) -> Manifest:
        result = self.kubectl("get", "-o", "json", *args)
        assert result.returncode == 0, explain(result)
        document: Manifest = json.loads(result.stdout)
        return document


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, explain(result)
    return result


def _free_port_pair() -> int:
    """A loopback port P with P + 1 free too (etcd's client and peer ports)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two adjacent free loopback ports")


def _script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CLUSTER_LOCAL), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The local cluster: the one `make cluster-up` started, or one of its own, started now on
    free ports in a temporary folder (so two test runs on one machine never meet) and stopped by
    PID after the module.

    Missing binaries skip the module on a laptop, naming the command that builds them, and fail it
    under CI, where .ci/run builds them first.
    """
    helm = find_tool("helm")
    env: dict[str, str] = {}
    if _script("status").returncode != 0:
        if _script("built").returncode != 0:
            missing(
                "NO LOCAL KUBERNETES: the binaries are not built, so the chart was NOT installed "
                "on an API server. Build them once with `scripts/cluster-local.sh build` (long "
                "the first time; cached under ~/.cache/loan-scorer), then `make cluster-check`."
            )
        env = {
            "CLUSTER_LOCAL_STATE": str(tmp_path_factory.mktemp("cluster-local")),
            "CLUSTER_API_PORT": str(_free_port_pair()),
            "CLUSTER_ETCD_PORT": str(_free_port_pair()),
        }
        up = _script("up", env=env)
        if up.returncode != 0:
            _script("down", env=env)
            pytest.fail(f"the local cluster did not start:\n{explain(up)}", pytrace=False)
    values = dict(
        line.split("=", 1)
        for line in _ok(_script("env", env=env)).stdout.splitlines()
        if "=" in line
    )
    try:
        yield Cluster(
            Path(values["KUBECONFIG"]), Path(values["KUBECTL"]), helm, Path(values["CRDS_DIR"])
        )
    finally:
        if env:
            _ok(_script("down", env=env))


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> list[str]:
    """The ServiceMonitor, PrometheusRule, ScaledObject and TriggerAuthentication CRDs, from the
    operators' own modules, established (their schemas then validate what the chart renders)."""
    files = sorted(cluster.crds_dir.glob("*.yaml"))
    assert len(files) == len(CRD_NAMES), f"CRD files in {cluster.crds_dir}: {files}"
    for file in files:
        # Server-side: the prometheus-operator CRDs are too big for the client-side annotation.
        _ok(cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(file)))
    for name in CRD_NAMES:
        _ok(cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s"))
    return list(CRD_NAMES)


def _restricted_namespace(cluster: Cluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }
    _ok(cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest)))
    # The ServiceAccount admission plugin needs the namespace's default ServiceAccount for any pod.
    for _ in range(60):
        if cluster.kubectl("-n", name, "get", "serviceaccount", "default").returncode == 0:
            break
        time.sleep(1)
    return name


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace enforcing Pod Security "restricted", deleted after the test."""
    name = _restricted_namespace(cluster, "scorer")
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def _install(cluster: Cluster, namespace: str, *args: str | Path) -> None:
    _ok(
        cluster.helm(
            "install", RELEASE, CHART, "--namespace", namespace, "--wait", "--timeout", WAIT, *args
        )
    )


def _pods(cluster: Cluster, namespace: str) -> list[Manifest]:
    pods: list[Manifest] = cluster.get("pods", "-n", namespace, "-l", _selector())["items"]
    return [pod for pod in pods if "deletionTimestamp" not in pod["metadata"]]


def _selector() -> str:
    return f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=loan-scorer"


def _ready(pod: Manifest) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _wait_available(cluster: Cluster, namespace: str, kind: str = "deployment") -> None:
    _ok(
        cluster.kubectl(
            "-n", namespace, "rollout", "status", f"{kind}/{FULLNAME}", f"--timeout={WAIT}"
        )
    )


def test_the_cluster_script_passes_shellcheck() -> None:
    result = run([find_tool("shellcheck"), CLUSTER_LOCAL])
    assert result.returncode == 0, explain(result)


def test_the_cluster_is_the_pinned_kubernetes_release(cluster: Cluster) -> None:
    versions = _ok(_script("versions")).stdout
    pinned = versions.split()[1]  # "kubernetes v1.37.2 (staging ...)"
    server = json.loads(_ok(cluster.kubectl("version", "-o", "json")).stdout)["serverVersion"]
    assert server["gitVersion"] == pinned
    nodes = cluster.get("nodes")["items"]
    assert len(nodes) == 2
    assert all(n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake" for n in nodes)


def test_default_values_install_roll_out_and_are_admitted_by_pod_security_restricted(
    cluster: Cluster, namespace: str
) -> None:
    _install(cluster, namespace)
    deployment = cluster.get("deployment", FULLNAME, "-n", namespace)
    assert deployment["status"]["readyReplicas"] == 2
    pods = _pods(cluster, namespace)
    assert len(pods) == 2
    assert all(pod["status"]["phase"] == "Running" and _ready(pod) for pod in pods)
    # topologySpread (ScheduleAnyway) put the two scorers on the two nodes.
    assert {pod["spec"]["nodeName"] for pod in pods} == {"kwok-node-0", "kwok-node-1"}
    # The pods exist, so Pod Security "restricted" admitted them; the default UID is the image's.
    assert pods[0]["spec"]["securityContext"]["runAsUser"] == 10001
    pdb = cluster.get("poddisruptionbudget", FULLNAME, "-n", namespace)
    assert pdb["status"]["currentHealthy"] == 2
    assert pdb["status"]["disruptionsAllowed"] == 1


def test_upgrade_to_a_new_image_tag_rolls_out_and_rollback_restores_it(
    cluster: Cluster, namespace: str
) -> None:
    _install(cluster, namespace, "--set", "image.tag=1.0.0")
    _ok(
        cluster.helm(
            "upgrade",
            RELEASE,
            CHART,
            "-n",
            namespace,
            "--reuse-values",
            "--set",
            "image.tag=1.1.0",
            "--wait",
            "--timeout",
            WAIT,
        )
    )
    _wait_available(cluster, namespace)
    images = {pod["spec"]["containers"][0]["image"] for pod in _pods(cluster, namespace)}
    assert images == {"ghcr.io/loan-scorer/loan-scorer:1.1.0"}
    replica_sets = cluster.get("replicasets", "-n", namespace, "-l", _selector())["items"]
    by_tag = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]: rs
        for rs in replica_sets
    }
    assert by_tag["1.1.0"]["status"]["readyReplicas"] == 2
    assert by_tag["1.0.0"]["spec"]["replicas"] == 0, "the old ReplicaSet was scaled down"
    assert (
        cluster.get("poddisruptionbudget", FULLNAME, "-n", namespace)["status"][
            "disruptionsAllowed"
        ]
        == 1
    )

    _ok(cluster.helm("rollback", RELEASE, "1", "-n", namespace, "--wait", "--timeout", WAIT))
    _wait_available(cluster, namespace)
    images = {pod["spec"]["containers"][0]["image"] for pod in _pods(cluster, namespace)}
    assert images == {"ghcr.io/loan-scorer/loan-scorer:1.0.0"}
    history = json.loads(
        _ok(cluster.helm("history", RELEASE, "-n", namespace, "-o", "json")).stdout
    )
    assert [(h["revision"], h["status"]) for h in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    assert history[-1]["description"] == "Rollback to 1"


def _evict(cluster: Cluster, namespace: str, pod: str) -> subprocess.CompletedProcess[str]:
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": namespace},
    }
    return cluster.kubectl(
        "create",
        "--raw",
        f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction",
        "-f",
        "-",
        stdin=json.dumps(eviction),
    )


def test_the_disruption_budget_lets_a_drain_take_one_scorer_at_a_time(
    cluster: Cluster, namespace: str
) -> None:
    _install(cluster, namespace)
    first, second = sorted(pod["metadata"]["name"] for pod in _pods(cluster, namespace))
    nodes = ["kwok-node-0", "kwok-node-1"]
    # Cordoned nodes (as in a drain): the evicted scorer's replacement cannot be scheduled, so the
    # budget stays spent and the second eviction must be refused.
    _ok(cluster.kubectl("cordon", *nodes))
    try:
        assert _evict(cluster, namespace, first).returncode == 0
        refused = _evict(cluster, namespace, second)
        assert refused.returncode != 0, explain(refused)
        assert "disruption budget" in refused.stderr
    finally:
        _ok(cluster.kubectl("uncordon", *nodes))
    _wait_available(cluster, namespace)
    assert len([pod for pod in _pods(cluster, namespace) if _ready(pod)]) == 2


def _platform_objects(cluster: Cluster, namespace: str) -> None:
    """What a platform team creates before installing: the Kafka Secrets and the policy ConfigMap
    the all-on values refer to (the chart never creates credentials)."""
    objects: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "loan-scorer-kafka-credentials"},
            "stringData": {"username": "scorer", "password": "not-a-real-password"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "loan-scorer-kafka-ca"},
            "stringData": {"ca.crt": "not a real certificate"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "loan-scorer-policy"},
            "data": {"policy.yaml": (REPO / "scoring" / "policy" / "policy-v2.yaml").read_text()},
        },
    ]
    for manifest in objects:
        _ok(cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(manifest)))


@pytest.mark.parametrize(
    ("values", "workload", "custom"),
    [
        (ALL_ON_KEDA, "deployment", {"servicemonitor", "prometheusrule", "scaledobject"}),
        (ALL_ON_HPA, "statefulset", {"servicemonitor", "prometheusrule"}),
    ],
    ids=["keda", "hpa-statefulset"],
)
def test_every_toggle_on_installs_with_the_operators_crds(
    cluster: Cluster,
    crds: list[str],
    namespace: str,
    values: Path,
    workload: str,
    custom: set[str],
) -> None:
    _platform_objects(cluster, namespace)
    _install(cluster, namespace, "-f", values)
    for kind in custom:
        # Accepted by the API server against the operator's own CRD schema.
        assert cluster.get(kind, FULLNAME, "-n", namespace)["metadata"]["name"] == FULLNAME
    for kind in ("networkpolicy", "poddisruptionbudget", "service", "serviceaccount"):
        cluster.get(kind, FULLNAME, "-n", namespace)
    dashboards = cluster.get("configmaps", "-n", namespace, "-l", "grafana_dashboard=1")["items"]
    assert len(dashboards) == 1
    if workload == "statefulset":
        # The real HPA controller scales the StatefulSet to minReplicas (2): it targets it right.
        hpa = cluster.get("hpa", FULLNAME, "-n", namespace)
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": FULLNAME,
        }
        _ok(
            cluster.kubectl(
                "-n",
                namespace,
                "wait",
                f"statefulset/{FULLNAME}",
                "--for=jsonpath={.status.readyReplicas}=2",
                f"--timeout={WAIT}",
            )
        )
        names = sorted(pod["metadata"]["name"] for pod in _pods(cluster, namespace))
        assert names == [f"{FULLNAME}-0", f"{FULLNAME}-1"]
    else:
        trigger = cluster.get("triggerauthentication", FULLNAME, "-n", namespace)
        secrets = {ref["name"] for ref in trigger["spec"]["secretTargetRef"]}
        assert secrets == {"loan-scorer-kafka-credentials", "loan-scorer-kafka-ca"}
        assert all(_ready(pod) for pod in _pods(cluster, namespace))


def test_openshift_values_leave_the_uid_to_the_platform_and_are_admitted(
    cluster: Cluster, namespace: str
) -> None:
    _install(cluster, namespace, "-f", OPENSHIFT)
    pods = _pods(cluster, namespace)
    assert len(pods) == 2
    assert all(_ready(pod) for pod in pods)
    for pod in pods:
        pod_context = pod["spec"]["securityContext"]
        assert pod_context["runAsNonRoot"] is True
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(pod_context)
        container_context = pod["spec"]["containers"][0]["securityContext"]
        assert "runAsUser" not in container_context
        assert container_context["runAsNonRoot"] is True


def _render(cluster: Cluster, *args: str) -> list[Manifest]:
    result = _ok(cluster.helm("template", RELEASE, CHART, *args))
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _server_dry_run(
    cluster: Cluster, namespace: str, manifest: Manifest
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "-n", namespace, "create", "--dry-run=server", "-f", "-", stdin=json.dumps(manifest)
    )


def test_pod_security_restricted_is_enforced_on_the_chart_pods(
    cluster: Cluster, namespace: str
) -> None:
    """The control: the same pod template minus its seccomp profile is refused, so the admission
    of the chart's pods above is Pod Security "restricted" saying yes, not a plugin that is off."""
    (hook,) = _render(
        cluster, "--namespace", namespace, "--show-only", "templates/tests/test-readyz.yaml"
    )
    accepted = _server_dry_run(cluster, namespace, hook)
    assert accepted.returncode == 0, explain(accepted)
    weakened = json.loads(json.dumps(hook))
    del weakened["spec"]["securityContext"]["seccompProfile"]
    del weakened["spec"]["containers"][0]["securityContext"]["seccompProfile"]
    refused = _server_dry_run(cluster, namespace, weakened)
    assert refused.returncode != 0, explain(refused)
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "seccompProfile" in refused.stderr


def test_the_helm_test_hook_is_accepted_by_the_server(cluster: Cluster, namespace: str) -> None:
    """`helm test` itself cannot pass here: kwok reports the hook pod Running but never runs its
    python, so it never Succeeds. What can be proven is that the hook renders, points at the
    Service, and is a pod the API server and Pod Security "restricted" accept."""
    (hook,) = _render(
        cluster, "--namespace", namespace, "--show-only", "templates/tests/test-readyz.yaml"
    )
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "test"
    # The probes are on the ops port (8081) since the API port needs a credential.
    assert f"http://{FULLNAME}:8081/readyz" in " ".join(hook["spec"]["containers"][0]["command"])
    created = _server_dry_run(cluster, namespace, hook)
    assert created.returncode == 0, explain(created)
    assert created.stdout.strip() == f"pod/{FULLNAME}-test-readyz created (server dry run)"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--set", "podSecurityContext.runAsUser=0"], ("runAsUser",)),
        (["--set", "replicas=3"], ("replicas",)),
    ],
    ids=["root-uid", "unknown-value"],
)
def test_the_values_schema_refuses_before_anything_reaches_the_server(
    cluster: Cluster, namespace: str, args: list[str], names: tuple[str, ...]
) -> None:
    result = cluster.helm("install", RELEASE, CHART, "-n", namespace, *args)
    assert_schema_refused(result, *names)
    assert cluster.get("all", "-n", namespace)["items"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Both pass values.schema.json; only the API server knows they are wrong.
        (
            ["--set", "resources.requests.cpu=2cores"],
            "quantities must match the regular expression",
        ),
        (
            ["--set", "podLabels.team=credit risk"],
            "a valid label must be an empty string or consist",
        ),
    ],
    ids=["cpu-quantity", "label-value"],
)
def test_the_api_server_refuses_what_the_schema_lets_through(
    cluster: Cluster, namespace: str, args: list[str], message: str
) -> None:
    result = cluster.helm(
        "install", RELEASE, CHART, "-n", namespace, "--atomic", "--timeout", WAIT, *args
    )
    assert result.returncode != 0
    assert message in result.stderr, explain(result)
    # --atomic: the failed release was removed, nothing of it is left.
    assert cluster.helm("status", RELEASE, "-n", namespace).returncode != 0
    assert cluster.get("deployments", "-n", namespace)["items"] == []
