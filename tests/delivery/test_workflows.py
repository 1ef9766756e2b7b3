"""GitHub Actions and Dependabot: actionlint clean, least privilege, pinned, bounded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.tools import REPO, explain, find_tool, run

WORKFLOWS = REPO / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
CD = WORKFLOWS / "cd.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def test_actionlint_is_clean() -> None:
    actionlint = find_tool("actionlint")
    # actionlint runs ShellCheck on every `run:` script when it is installed.
    result = run([actionlint, "-no-color"])
    assert result.returncode == 0, explain(result)


def test_install_tools_script_passes_shellcheck() -> None:
    shellcheck = find_tool("shellcheck")
    result = run([shellcheck, REPO / "scripts" / "install-tools.sh"])
    assert result.returncode == 0, explain(result)


@pytest.mark.parametrize("path", [CI, CD], ids=["ci", "cd"])
def test_least_privilege_timeouts_and_concurrency(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {}, "top level grants nothing"
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in workflow["concurrency"]["group"]
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} states its permissions"
        assert 0 < job["timeout-minutes"] <= 30, f"job {name} has a timeout"
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes <= {"packages", "security-events"}, f"job {name} writes {writes}"


@pytest.mark.parametrize("path", [CI, CD], ids=["ci", "cd"])
def test_actions_are_pinned_to_commit_shas_with_a_version_comment(path: Path) -> None:
    for line in path.read_text().splitlines():
        if "uses:" not in line:
            continue
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PINNED.match(reference), f"not pinned to a full SHA: {line.strip()}"
        assert re.search(r"# v\d", line), f"no version comment: {line.strip()}"
    for job in _load(path)["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_ci_runs_on_push_and_pull_request_and_covers_every_check() -> None:
    workflow = _load(CI)
    assert {"push", "pull_request"} <= set(workflow["on"])
    text = CI.read_text()
    for check in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert check in text, check
    assert "docker/build-push-action@" in text
    runs = {
        name: "\n".join(step.get("run", "") for step in job["steps"])
        for name, job in workflow["jobs"].items()
    }
    # A job really runs the delivery checks (not merely names them, as an --ignore flag does).
    assert any(re.search(r"pytest[^\n]*\stests/delivery(\s|$)", run) for run in runs.values()), runs
    # pip-audit of the lock file, in a job of its own (issue 12).
    assert "scripts/audit-deps.sh" in runs["audit"]
    # Every job that runs tests installs the tools they need: under CI a missing one fails.
    for name, script in runs.items():
        if "pytest" in script:
            assert "scripts/install-tools.sh" in script, f"job {name} runs tests without tools"


def test_cd_builds_pushes_scans_and_publishes_the_chart_on_tags() -> None:
    workflow = _load(CD)
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    image_steps = {step.get("uses", "").split("@")[0] for step in jobs["image"]["steps"]}
    assert {
        "docker/setup-buildx-action",
        "docker/login-action",
        "docker/metadata-action",
        "docker/build-push-action",
    } <= image_steps
    meta = next(s for s in jobs["image"]["steps"] if s.get("id") == "meta")
    assert "type=semver" in meta["with"]["tags"]
    assert "type=sha" in meta["with"]["tags"]
    build = next(s for s in jobs["image"]["steps"] if s.get("id") == "build")
    assert build["with"]["push"] is True
    assert jobs["image"]["permissions"] == {"contents": "read", "packages": "write"}
    scans = [s for s in jobs["scan"]["steps"] if "trivy-action" in s.get("uses", "")]
    assert any(s["with"]["exit-code"] == "1" for s in scans), "a Trivy finding fails the release"
    assert set(jobs["chart"]["needs"]) == {"image", "scan", "sbom"}
    sbom = next(s for s in jobs["sbom"]["steps"] if "trivy-action" in s.get("uses", ""))
    assert sbom["with"]["format"] == "cyclonedx"
    upload = next(s for s in jobs["sbom"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == sbom["with"]["output"]
    assert upload["with"]["if-no-files-found"] == "error"
    assert build["with"]["sbom"] is True  # and the attestation on the image itself
    chart_script = " ".join(step.get("run", "") for step in jobs["chart"]["steps"])
    assert "helm package" in chart_script
    assert 'helm push dist/loan-scorer-*.tgz "oci://${REGISTRY}/' in chart_script
    assert workflow["env"]["REGISTRY"] == "ghcr.io"


def test_dependabot_covers_pip_actions_docker_and_helm() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert {"pip", "github-actions", "docker", "docker-compose", "helm"} <= ecosystems
    for update in config["updates"]:
        assert update["schedule"]["interval"] in {"daily", "weekly", "monthly"}
