"""The scorer as the orchestrator runs it: `loan-scorer run` in its own process, and a paced
upstream producer, for the tests that send signals and restart brokers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from confluent_kafka import Producer

from consumer.tools.demo_events import DemoEvent
from tests.integration.scorer_harness import ScorerTopics
from tests.ports import free_port as free_port  # re-exported: other tests import it here

_REGISTRY_VARIABLES = "LOAN_SCORER_SCHEMA_REGISTRY_"
# From `python -m consumer run` to its first line of output: a guard against a process that never
# gets going, not a measurement (imports alone took 90 s with ~8 processes on two cores).
STARTUP_BOUND_S = 300.0


class ScorerProcess:
    def __init__(
        self,
        bootstrap: str,
        topics: ScorerTopics,
        group_id: str,
        model_dir: Path,
        log_file: Path,
        *,
        module: str = "consumer run",
        **env: str,
    ) -> None:
        """`python -m consumer run` by default; `module` ("MODULE ARG...") runs another module
        the same way (the benchmark's reference consumers)."""
        self.port = free_port()
        self._module = module
        self.cwd: Path | None = None  # where it runs; another checkout's `consumer` (bench)
        self.log_file = log_file
        self._env = {
            # A registry is used only when a test passes one (its contracts must be registered
            # under the test's own topics first); one configured for the session is not inherited.
            **{k: v for k, v in os.environ.items() if not k.startswith(_REGISTRY_VARIABLES)},
            "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LOAN_SCORER_INPUT_TOPIC": topics.input,
            "LOAN_SCORER_OUTPUT_TOPIC": topics.output,
            "LOAN_SCORER_DLQ_TOPIC": topics.dlq,
            "LOAN_SCORER_GROUP_ID": group_id,
            "LOAN_SCORER_MODEL_DIR": str(model_dir),
            "LOAN_SCORER_HTTP_HOST": "127.0.0.1",
            "LOAN_SCORER_HTTP_PORT": str(self.port),
            "LOAN_SCORER_INSTANCE_ID": f"{group_id}-proc",
            "LOAN_SCORER_BATCH_MAX_EVENTS": "100",
            "LOAN_SCORER_STATISTICS_INTERVAL_MS": "1000",
            # The process's own state volume: a restart of this object reuses it, as a pod of a
            # StatefulSet does; another object (another log file) starts without one.
            "LOAN_SCORER_STATE_DIR": str(log_file.with_name(log_file.stem + ".state")),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log_size_at_start = 0

    def unset(self, *names: str) -> None:
        """Leave variables out of its environment: another version of the scorer refuses the
        LOAN_SCORER_ variables it does not know (the bench's baseline)."""
        for name in names:
            self._env.pop(name, None)

    def start(self) -> None:
        self._log_size_at_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # our own CLI, fixed arguments
                [sys.executable, "-m", *self._module.split()],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
            )

    def wait_ready(self, timeout_s: float = 60.0, startup_s: float = STARTUP_BOUND_S) -> None:
        """Ready within `timeout_s` of the process starting to run our code (its first line of
        output, after the interpreter and the imports): Python's start-up is not what the tests
        measure, and on two loaded cores it took 60-90 s (docs/reliability.md), so it has a
        bound of its own that only catches a process that never gets going."""
        self._wait_for_first_output(startup_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"scorer exited early:\n{self.logs()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"scorer not ready within {timeout_s} s of starting:\n{self.logs()}")

    def _wait_for_first_output(self, startup_s: float) -> None:
        deadline = time.monotonic() + startup_s
        while not self._has_output():
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"scorer exited before its first line:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"scorer wrote nothing within {startup_s} s of its start")
            time.sleep(0.2)

    def _has_output(self) -> bool:
        """Our code runs: it wrote a line, or its HTTP server accepts a connection (a scorer at
        LOAN_SCORER_LOG_LEVEL=WARNING, as `make bench` runs it, may write nothing at all)."""
        if self.log_file.exists() and self.log_file.stat().st_size > self._log_size_at_start:
            return True
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def readyz(self, timeout_s: float = 60.0) -> httpx.Response:
        """The first answer of /readyz (whatever its status) once the HTTP server is up."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def terminate(self, timeout_s: float) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout_s)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def metric(self, name: str) -> float:
        """The sum of a metric's unlabelled series on /metrics (a counter's `_total`)."""
        exposition = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return sum(
            float(line.rpartition(" ")[2])
            for line in exposition.splitlines()
            if line.startswith(f"{name} ")
        )

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")[-6000:]


class PacedProducer:
    """Sends events at a steady rate from a thread, riding out broker outages (idempotent)."""

    def __init__(self, bootstrap: str, topic: str, events: list[DemoEvent], rate_per_s: float):
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
        )
        self._topic = topic
        self._events = events
        self._interval = 1.0 / rate_per_s
        self.sent = 0
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="paced-producer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        next_send = time.monotonic()
        for event in self._events:
            # poll() returns as soon as it served a delivery report, so one poll is no wait:
            # poll until the send is due (at least librdkafka's 1 ms, or it spins)
            while (delay := next_send - time.monotonic()) > 0:
                self._producer.poll(max(delay, 0.001))
            next_send += self._interval
            while True:
                try:
                    self._producer.produce(
                        self._topic, key=event.key, value=event.value, on_delivery=self._delivered
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)
            self.sent += 1
        remaining = self._producer.flush(120)
        if remaining:
            self.failures.append(f"{remaining} undelivered")

    def _delivered(self, error: object, _msg: object) -> None:
        if error is not None:
            self.failures.append(str(error))

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "producer did not finish"
        assert not self.failures, self.failures
