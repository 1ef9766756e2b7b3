"""The private Docker Engine (scripts/docker-engine.sh) and the images scripts/build-image.sh
builds, for the container and compose tests.

The engine is the one DOCKER_HOST names, else the private socket the script starts; never the
machine's default engine. A missing engine or image skips loudly on a laptop and fails under
CI=true (tests/delivery/tools.py), so a container check that did not run never looks green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.delivery.tools import REPO, missing

PRIVATE_SOCKET = Path("/run/loan-scorer-docker/docker.sock")
SCORER_IMAGE = os.environ.get("LOAN_SCORER_IMAGE", "loan-scorer:local")
KAFKA_LOCAL_IMAGE = os.environ.get("KAFKA_LOCAL_IMAGE", "loan-scorer-kafka:4.1.1")
PROMETHEUS_LOCAL_IMAGE = os.environ.get("PROMETHEUS_LOCAL_IMAGE", "loan-scorer-prometheus:debian")
HOW_TO = "scripts/docker-engine.sh up, then scripts/build-image.sh all (what .ci/run does)"


def docker_host() -> str:
    """DOCKER_HOST if set, else the private engine's socket."""
    return os.environ.get("DOCKER_HOST") or f"unix://{PRIVATE_SOCKET}"


def docker_env() -> dict[str, str]:
    """The environment for docker and compose commands: this engine, nothing else."""
    return {**os.environ, "DOCKER_HOST": docker_host()}


def docker_cli() -> str:
    """Debian's client (the one scripts/docker-engine.sh installs) if present, else PATH's."""
    debian = Path("/usr/bin/docker")
    if debian.is_file():
        return str(debian)
    found = shutil.which("docker")
    if found is None:
        missing(f"MISSING TOOL 'docker': no Docker client, so this check did NOT run. {HOW_TO}.")
    return found


def docker(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """A docker command against this engine; the caller asserts on the return code."""
    return subprocess.run(
        [docker_cli(), *args],
        env=docker_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        cwd=REPO,
    )


def require_engine() -> None:
    """Skip (fail under CI) unless an engine answers on docker_host()."""
    try:
        result = docker("version", "--format", "{{.Server.Version}}", timeout_s=15)
    except subprocess.TimeoutExpired:
        missing(f"NO DOCKER ENGINE: {docker_host()} did not answer within 15 s. {HOW_TO}.")
    if result.returncode != 0:
        missing(
            f"NO DOCKER ENGINE on {docker_host()}, so this container check did NOT run. {HOW_TO}."
            f" ({result.stderr.strip()[:200]})"
        )


def require_image(image: str) -> None:
    """Skip (fail under CI) unless the engine answers and holds `image`."""
    require_engine()
    if docker("image", "inspect", image).returncode != 0:
        missing(f"MISSING IMAGE {image!r} on {docker_host()}: not built. {HOW_TO}.")


COMPOSE_VERSION = "v2.29.7"  # keep in step with scripts/docker-engine.sh
COMPOSE_BINARY = (
    Path.home() / ".cache" / "loan-scorer" / f"compose-{COMPOSE_VERSION}" / "docker-compose"
)


def compose_cli() -> str:
    """Compose v2 (built from the Go module proxy by scripts/docker-engine.sh install), run
    standalone; LOAN_SCORER_COMPOSE names another. Debian's compose v1 cannot read the file (it
    refuses the top-level `name`)."""
    configured = os.environ.get("LOAN_SCORER_COMPOSE")
    candidate = Path(configured) if configured else COMPOSE_BINARY
    if not os.access(candidate, os.X_OK):
        missing(f"MISSING TOOL compose v2 at {candidate}: the stack check did NOT run. {HOW_TO}.")
    return str(candidate)
