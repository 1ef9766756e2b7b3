"""The Dockerfile: hadolint clean and shaped as the image contract says (docs/deploy.md)."""

from __future__ import annotations

import json
import re

import pytest

from tests.delivery.tools import REPO, explain, find_tool, run

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    pairs = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def test_hadolint_is_clean() -> None:
    hadolint = find_tool("hadolint")
    result = run([hadolint, "--failure-threshold", "info", DOCKERFILE])
    assert result.returncode == 0, explain(result)


def test_base_image_is_slim_python_311_pinned_to_a_patch_version() -> None:
    args = dict(
        rest.split("=", 1) for keyword, rest in _instructions() if keyword == "ARG" and "=" in rest
    )
    assert re.fullmatch(
        r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", args["PYTHON_IMAGE"]
    )
    assert all(
        rest.startswith("${PYTHON_IMAGE}") for keyword, rest in _instructions() if keyword == "FROM"
    )


def test_builder_installs_main_dependencies_with_poetry_and_trains_the_model() -> None:
    builder, _runtime = _stages()
    runs = " ".join(rest for keyword, rest in builder if keyword == "RUN")
    assert 'pip install "poetry==' in runs
    assert "poetry install --only main" in runs
    # Pinned by the lock file: a lock that does not match pyproject.toml fails the build first.
    assert runs.index("poetry check --lock") < runs.index("poetry install --only main")
    assert "poetry lock" not in runs.replace("poetry check --lock", "")
    assert "pip install" not in runs.replace('pip install "poetry==', "")
    assert "loan-scorer train --out /app/model" in runs
    env = " ".join(rest for keyword, rest in builder if keyword == "ENV")
    assert "POETRY_VIRTUALENVS_IN_PROJECT=true" in env


def test_runtime_stage_copies_only_venv_packages_and_model() -> None:
    _builder, runtime = _stages()
    copied = {rest.split()[-2] for keyword, rest in runtime if keyword == "COPY"}
    assert copied == {
        "/app/.venv",
        "/app/consumer",
        "/app/schemas",
        "/app/scoring",
        "/app/training",
        "/app/impact",
        "/app/registry",
        "/app/model",
    }
    assert all("--from=builder" in rest for keyword, rest in runtime if keyword == "COPY")
    runs = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    assert "poetry" not in runs
    assert "build-essential" not in runs
    assert "gcc" not in runs


def test_runtime_runs_as_numeric_non_root_user_under_tini() -> None:
    _builder, runtime = _stages()
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage sets a USER"
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
    entrypoint = json.loads(next(rest for keyword, rest in runtime if keyword == "ENTRYPOINT"))
    assert entrypoint[:2] == ["/usr/bin/tini", "--"], "exec form with an init, so SIGTERM arrives"
    assert json.loads(next(rest for keyword, rest in runtime if keyword == "CMD")) == ["run"]


def test_healthcheck_asks_healthz_with_python() -> None:
    _builder, runtime = _stages()
    healthcheck = next(rest for keyword, rest in runtime if keyword == "HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    assert "LOAN_SCORER_HTTP_OPS_PORT" in command[2]  # the probes' port when it is apart


@pytest.mark.parametrize(
    "label",
    ["title", "description", "licenses", "source", "version", "revision", "created"],
)
def test_oci_labels(label: str) -> None:
    labels = " ".join(rest for keyword, rest in _instructions() if keyword == "LABEL")
    assert f"org.opencontainers.image.{label}=" in labels


def test_model_dir_and_port_are_set() -> None:
    _builder, runtime = _stages()
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "LOAN_SCORER_MODEL_DIR=/app/model" in env
    assert "LOAN_SCORER_HTTP_PORT=8000" in env
    assert ("EXPOSE", "8000") in runtime


STATE_DIR = "/var/lib/loan-scorer/state"


def test_the_state_dir_is_set_created_for_the_user_and_a_volume() -> None:
    """The root is read-only at run time: RocksDB's directory is created in the image, owned by
    the scorer's user (group 0 for OpenShift's arbitrary UIDs), so a volume mounted there starts
    writable, and declared a VOLUME after it is made (later changes to a VOLUME are dropped)."""
    _builder, runtime = _stages()
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert f"LOAN_SCORER_STATE_DIR={STATE_DIR}" in env
    keywords = [keyword for keyword, _rest in runtime]
    (created,) = [
        index
        for index, (keyword, rest) in enumerate(runtime)
        if keyword == "RUN" and STATE_DIR in rest
    ]
    made = rf"install -d -o 10001 -g 0 -m 0?770 {re.escape(STATE_DIR)}"
    assert re.search(made, runtime[created][1])
    volume = keywords.index("VOLUME")
    assert json.loads(runtime[volume][1]) == [STATE_DIR]
    assert created < volume


def test_dockerignore_is_an_allow_list_without_secrets_or_venv() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is excluded first, then the build inputs re-included"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "poetry.lock",
        "README.md",
        "consumer",
        "schemas",
        "scoring",
        "training",
        "impact",
        "registry",
    }
    # Every path the Dockerfile copies from the context is let in (a COPY of a folder left out
    # fails the build with "not found", as impact/ and registry/ once did).
    builder, _runtime = _stages()
    copied = {
        source
        for keyword, rest in builder
        if keyword == "COPY" and not rest.startswith("--from")
        for source in rest.split()[:-1]
        if not source.startswith("--")
    }
    assert copied <= allowed, copied - allowed


@pytest.mark.parametrize("name", ["kafka", "prometheus"])
def test_registry_free_stand_in_images_are_hadolint_clean(name: str) -> None:
    hadolint = find_tool("hadolint")
    result = run([hadolint, "--failure-threshold", "info", REPO / "images" / name / "Dockerfile"])
    assert result.returncode == 0, explain(result)


def test_image_scripts_pass_shellcheck() -> None:
    shellcheck = find_tool("shellcheck")
    scripts = [
        REPO / "scripts" / "docker-engine.sh",
        REPO / "scripts" / "build-image.sh",
        *sorted((REPO / "images" / "kafka" / "bin").glob("*.sh")),
    ]
    result = run([shellcheck, *scripts])
    assert result.returncode == 0, explain(result)
