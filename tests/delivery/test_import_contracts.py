"""The import-linter contracts in pyproject.toml hold on the tree, and break when they should.

A contract that no import can break proves nothing, so each case below copies the packages to a
scratch folder, adds one import the architecture forbids, and expects `lint-imports` to name the
broken contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "scoring", "training", "impact", "registry", "consumer")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The scratch copy must be the one imported, not the installed project: it comes first.
    # Without the coverage variables of `make test`: measured, the scratch copies would count as
    # the project's code (seven copies at 0 % took the total to 12 %).
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))},
        "PYTHONPATH": str(root),
    }
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def scratch_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "consumer/pipeline/scoring.py",
            "import confluent_kafka  # noqa",
            "No Kafka client where decisions are made or HTTP is served",
        ),
        (
            "consumer/api/app.py",
            "from consumer.runtime import heap as _heap  # noqa",
            "consumer's rooms, top to bottom",
        ),
        (
            "consumer/kafka/offsets.py",
            "from consumer.delivery import mode as _mode  # noqa",
            "consumer's rooms, top to bottom",
        ),
        (
            "consumer/kafka/calls.py",
            "import fastapi  # noqa",
            "HTTP only in the api room and the runtime that serves it",
        ),
        (
            "scoring/features.py",
            "import consumer.records  # noqa",
            "Project: schemas <- scoring",
        ),
        (
            "scoring/features.py",
            "import pydantic_settings  # noqa",
            "scoring is pure",
        ),
        (
            "consumer/pipeline/dedup.py",
            "from consumer.pipeline import scoring as _scoring  # noqa",
            "No circles inside consumer",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    scratch_tree: Path, module: str, line: str, contract: str
) -> None:
    path = scratch_tree / module
    assert path.is_file(), f"{module} moved: update this test"
    path.write_text(path.read_text() + f"\n{line}\n")

    result = _lint_imports(scratch_tree)

    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout
