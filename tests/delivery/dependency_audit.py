"""pip-audit against poetry.lock, with exceptions that must carry reasons.

Every package pinned in the lock file (the image's and the tools') is looked up in a vulnerability
database by pip-audit (`--no-deps --disable-pip`: the lock's exact versions, nothing resolved or
installed). The run fails on a known vulnerability not listed in security/audit-exceptions.toml, on
an exception without a reason or past its review date, on an exception that matches nothing any
more, and on a package that could not be audited (the service unreachable): a check that cannot
look must not pass.

    python -m tests.delivery.dependency_audit            # exit 1 with the findings
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "poetry.lock"
EXCEPTIONS = REPO / "security" / "audit-exceptions.toml"
SERVICE = "pypi"  # the PyPI JSON API; pip-audit's other service is OSV (api.osv.dev)


@dataclass(frozen=True)
class AuditException:
    id: str
    package: str
    reason: str
    review_by: dt.date


def locked_requirements(lock: Path = LOCK) -> list[list[str]]:
    """`name==version` for every package in the lock file, in as few lists as pip-audit needs:
    a lock may pin two versions of one package (for different Python versions), and pip-audit
    refuses a name twice in one requirements file."""
    packages = tomllib.loads(lock.read_text())["package"]
    rounds: list[dict[str, str]] = []
    for package in sorted(packages, key=lambda p: (p["name"], p["version"])):
        free = next((r for r in rounds if package["name"] not in r), None)
        if free is None:
            free = {}
            rounds.append(free)
        free[package["name"]] = package["version"]
    return [sorted(f"{name}=={version}" for name, version in r.items()) for r in rounds]


def load_exceptions(path: Path = EXCEPTIONS) -> list[AuditException]:
    entries = tomllib.loads(path.read_text()).get("exception", [])
    return [
        AuditException(
            id=str(entry.get("id", "")),
            package=str(entry.get("package", "")),
            reason=str(entry.get("reason", "")).strip(),
            review_by=entry.get("review_by", dt.date.min),
        )
        for entry in entries
    ]


def judge(report: dict[str, Any], exceptions: list[AuditException], today: dt.date) -> list[str]:
    """Every reason the audit fails, or [] when it passes."""
    problems: list[str] = []
    used: set[str] = set()
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    if dependencies and len(skipped) == len(dependencies):
        return [f"no package could be audited: is the {SERVICE} vulnerability service reachable?"]
    for dependency in skipped:
        problems.append(f"{dependency['name']}: not audited ({dependency['skip_reason']})")
    by_id = {e.id: e for e in exceptions}
    for dependency in dependencies:
        for vuln in dependency.get("vulns", []):
            names = [vuln["id"], *vuln.get("aliases", [])]
            accepted = next((by_id[n] for n in names if n in by_id), None)
            if accepted is None or accepted.package != dependency["name"]:
                fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
                where = f"{dependency['name']} {dependency['version']}"
                problems.append(f"{where}: {vuln['id']} (fixed in: {fixes})")
                continue
            used.add(accepted.id)
    for exception in exceptions:
        if not exception.reason:
            problems.append(f"exception {exception.id}: no reason given")
        if exception.review_by < today:
            problems.append(f"exception {exception.id}: review date {exception.review_by} passed")
        if exception.id not in used:
            problems.append(f"exception {exception.id}: matches no finding any more; remove it")
    return problems


def run_pip_audit(requirements: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requirements.txt"
        path.write_text("\n".join(requirements) + "\n")
        result = subprocess.run(  # our own venv's tool, fixed arguments
            [
                str(Path(sys.executable).with_name("pip-audit")),
                "--requirement",
                str(path),
                "--no-deps",
                "--disable-pip",
                "--vulnerability-service",
                SERVICE,
                "--format",
                "json",
                "--progress-spinner",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    if not result.stdout.strip():
        raise RuntimeError(f"pip-audit gave no report (exit {result.returncode}): {result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def audit_lock() -> dict[str, Any]:
    """One report over every locked package (one pip-audit run per list)."""
    dependencies: list[Any] = []
    for requirements in locked_requirements():
        dependencies += run_pip_audit(requirements).get("dependencies", [])
    return {"dependencies": dependencies}


def main() -> int:
    problems = judge(audit_lock(), load_exceptions(), dt.datetime.now(dt.UTC).date())
    for problem in problems:
        print(problem)
    print("pip-audit: " + ("FAILED" if problems else "no known vulnerability in poetry.lock"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
