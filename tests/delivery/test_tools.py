"""A missing tool or prerequisite skips on a laptop and fails under CI, never passes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.delivery import tools
from tests.delivery.tools import (
    TOOLS_BIN,
    explain,
    find_tool,
    missing,
    pinned_tool,
    pinned_version,
    run,
)


def test_a_missing_prerequisite_fails_the_run_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        missing("MISSING TOOL 'helm'")


def test_a_missing_prerequisite_skips_loudly_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="MISSING TOOL"):
        missing("MISSING TOOL 'helm'")


def _fake_helm_first_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `helm` that is not the pinned one, first on PATH (as a `go install`ed helm 3.16 was)."""
    directory = tmp_path / "other-bin"
    directory.mkdir()
    fake = directory / "helm"
    fake.write_text("#!/bin/sh\necho v3.16.0-other\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return fake


def _stamp(tools_bin: Path, name: str, text: str) -> None:
    tools_bin.mkdir(exist_ok=True)
    (tools_bin / name).write_text("")
    (tools_bin / f".{name}.version").write_text(text + "\n")


def test_a_helm_first_on_path_is_never_taken_for_the_pinned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_helm_first_on_path(tmp_path, monkeypatch)
    monkeypatch.setattr(tools, "TOOLS_BIN", tmp_path / "empty")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not built into") as skipped:
        find_tool("helm")
    assert str(fake) not in str(skipped.value)


def test_only_a_build_at_the_pinned_version_with_kubernetes_stamped_in_counts(
    tmp_path: Path,
) -> None:
    version = pinned_version("helm")
    module = "helm.sh/helm/v3/cmd/helm"
    stamped = f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={tools._helm_k8s_minor()}"
    other, plain, pinned = tmp_path / "other", tmp_path / "plain", tmp_path / "pinned"
    _stamp(other, "helm", f"{module}@v3.16.0 -ldflags {stamped}")
    _stamp(plain, "helm", f"{module}@{version} ")  # a plain go install: renders for 1.20
    _stamp(pinned, "helm", f"{module}@{version} -ldflags {stamped} -X other.flag=1")

    assert pinned_tool("helm", other) is None
    assert pinned_tool("helm", plain) is None
    assert pinned_tool("helm", tmp_path / "absent") is None
    assert pinned_tool("helm", pinned) == pinned / "helm"


def test_the_helm_the_checks_use_is_the_pinned_build_whatever_path_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The done-when of issue 25, in small: a different helm first on PATH, and the checks still
    run the pinned build, which reports the pinned version and Kubernetes version."""
    _fake_helm_first_on_path(tmp_path, monkeypatch)
    helm = find_tool("helm")
    assert helm == TOOLS_BIN / "helm"
    result = run([helm, "version", "--template", "{{.Version}}"])
    assert result.returncode == 0, explain(result)
    assert result.stdout.strip() == pinned_version("helm")
    rendered = run(
        [
            helm,
            "template",
            "r",
            tools.REPO / "helm" / "loan-scorer",
            "--show-only",
            "templates/hpa.yaml",
            "--set",
            "autoscaling.enabled=true",
        ]
    )
    assert rendered.returncode == 0, explain(rendered)  # not "chart requires kubeVersion"
    assert "kind: HorizontalPodAutoscaler" in rendered.stdout
