"""The fault suite's broker: one of its own, which its tests stop, restart and kill -9."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KAFKA_LOCAL, _free_port
from tests.delivery.tools import missing
from tests.faults.fleet import Broker

_ROWS: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
def fault_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    if not shutil.which("java"):
        missing("needs Java 17+ to run a broker the suite can kill (scripts/kafka-local.sh)")
    port = _free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "KAFKA_LOCAL_STATE": str(tmp_path_factory.mktemp("fault-broker")),
    }
    subprocess.run([str(KAFKA_LOCAL), "up"], check=True, env=env)
    try:
        yield Broker(f"127.0.0.1:{port}", env)
    finally:
        subprocess.run([str(KAFKA_LOCAL), "down"], check=False, env=env)


@pytest.fixture(scope="session")
def fault_report() -> Iterator[list[dict[str, Any]]]:
    """Rows of docs/reliability.md's table; written to FAULT_REPORT (a path) when set."""
    yield _ROWS
    target = os.environ.get("FAULT_REPORT")
    if target and _ROWS:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(_ROWS, indent=2) + "\n")
