"""The scorer against a broker that demands SASL_SSL: a SCRAM-SHA-512 user made with the broker's
own storage tool and a certificate signed by a throwaway CA (tests/security/throwaway_tls.py).

With the right password and the CA it scores end to end exactly once. With a wrong password or a
CA that did not sign the broker's certificate it stays up and not ready, saying why on /readyz and
in its log, and does not storm the broker: connection attempts back off, the CPU stays idle.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumer.tools.demo_events import demo_events
from schemas.decode import decode_loan_scored
from tests.conftest import KAFKA_LOCAL, _free_port
from tests.delivery.tools import missing
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess
from tests.kafka_io import consume, produce
from tests.security.throwaway_tls import BrokerTls, make_broker_tls

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USER = "loan-scorer"
# A refused scorer's failed authentications as the broker counts them (its Selector logs one line
# each), per second, once settled. Measured with librdkafka's defaults: ~26/s for an untrusted
# certificate (the storm); with the scorer's reconnect.backoff.ms of 2 s: ~4/s, and under 1/s
# for a wrong password.
MAX_ATTEMPTS_PER_S = 8.0
# librdkafka's own log lines per second (it logs a refused attempt, suppressing repeats):
# 1,685 in 20 s with re-bootstrap on, ~2/s without.
MAX_CLIENT_LOG_LINES_PER_S = 10.0
# Share of one core a refused scorer may use while it waits (measured: under 5 %).
MAX_CPU_SHARE = 0.25
WATCH_S = 20.0


@dataclass(frozen=True)
class SecureBroker:
    plaintext: str  # for the test's own set-up and checks
    sasl_ssl: str  # what the scorer is given
    log: Path  # the broker's own log: one "Failed authentication" line per refused attempt
    password: str
    tls: BrokerTls


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    if not shutil.which("java"):
        missing("needs Java 17+ to run a SASL_SSL broker (scripts/kafka-local.sh)")
    state = tmp_path_factory.mktemp("sasl-ssl-broker")
    tls = make_broker_tls(state / "tls", password=secrets.token_urlsafe(12))
    password = secrets.token_urlsafe(16)
    port, sasl_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "KAFKA_LOCAL_STATE": str(state),
        "KAFKA_SASL_SSL_PORT": str(sasl_port),
        "KAFKA_SSL_KEYSTORE": str(tls.keystore),
        "KAFKA_SSL_KEYSTORE_PASSWORD": tls.keystore_password,
        "KAFKA_SCRAM_USER": USER,
        "KAFKA_SCRAM_PASSWORD": password,
    }
    subprocess.run([str(KAFKA_LOCAL), "up"], check=True, env=env)
    try:
        yield SecureBroker(
            f"127.0.0.1:{port}", f"127.0.0.1:{sasl_port}", state / "server.log", password, tls
        )
    finally:
        subprocess.run([str(KAFKA_LOCAL), "down"], check=False, env=env)


def _topics(broker: SecureBroker, suffix: str) -> ScorerTopics:
    topics = ScorerTopics(f"in.{suffix}", f"out.{suffix}", f"dlq.{suffix}")
    admin = AdminClient({"bootstrap.servers": broker.plaintext})
    for future in admin.create_topics(
        [NewTopic(name, num_partitions=2) for name in vars(topics).values()]
    ).values():
        future.result(30)
    return topics


def _scorer(
    broker: SecureBroker, suffix: str, model_dir: Path, log: Path, *, password: str, ca: Path
) -> tuple[ScorerProcess, ScorerTopics]:
    topics = _topics(broker, suffix)
    scorer = ScorerProcess(
        broker.sasl_ssl,
        topics,
        f"group.{suffix}",
        model_dir,
        log,
        LOAN_SCORER_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        LOAN_SCORER_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        LOAN_SCORER_KAFKA_SASL_USERNAME=USER,
        LOAN_SCORER_KAFKA_SASL_PASSWORD=password,
        LOAN_SCORER_KAFKA_SSL_CA_LOCATION=str(ca),
    )
    return scorer, topics


def test_the_right_credentials_and_ca_score_every_event_exactly_once(
    secure_broker: SecureBroker, model_dir: Path, tmp_path: Path
) -> None:
    scorer, topics = _scorer(
        secure_broker,
        "right",
        model_dir,
        tmp_path / "scorer.log",
        password=secure_broker.password,
        ca=secure_broker.tls.ca_pem,
    )
    events = list(demo_events(400))
    produce(secure_broker.plaintext, topics.input, ((e.key, e.value) for e in events))
    scorer.start()
    try:
        scorer.wait_ready(timeout_s=180)  # model load on 2 busy cores
        scores = consume(
            secure_broker.plaintext,
            topics.output,
            expected=len(events),
            group_id="check.right",
            timeout_s=120,
        )
        ids = Counter(decode_loan_scored(r.value).application_id for r in scores if r.value)
        assert set(ids) == {e.key.decode() for e in events}, scorer.logs()
        assert max(ids.values()) == 1, "an application was scored twice"
        code, _took = scorer.terminate(timeout_s=30)
        assert code == 0, scorer.logs()
        assert secure_broker.password not in scorer.log_file.read_text()
    finally:
        scorer.kill()


def _log(scorer: ScorerProcess) -> str:
    return scorer.log_file.read_text(errors="replace")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_log_lines(log: str) -> int:
    """librdkafka's FAIL lines (it suppresses identical repeats, so these undercount attempts)."""
    return len(re.findall(r"^%\d\|[\d.]+\|FAIL\|", log, flags=re.MULTILINE))


def _refused_at_broker(broker: SecureBroker) -> int:
    return broker.log.read_text(errors="replace").count("Failed authentication with /127.0.0.1")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong-password", "invalid credentials"),
        ("untrusted-certificate", "certificate verify failed"),
    ],
)
def test_refused_credentials_or_certificate_keep_it_unready_saying_why_without_a_storm(
    secure_broker: SecureBroker, model_dir: Path, tmp_path: Path, case: str, reason: str
) -> None:
    wrong_password = secrets.token_urlsafe(16)
    password = wrong_password if case == "wrong-password" else secure_broker.password
    tls = secure_broker.tls
    ca = tls.other_ca_pem if case == "untrusted-certificate" else tls.ca_pem
    scorer, _topics = _scorer(
        secure_broker, case, model_dir, tmp_path / "scorer.log", password=password, ca=ca
    )
    scorer.start()
    try:
        deadline = time.monotonic() + 180
        while True:
            answer = scorer.readyz()
            reasons = answer.json()["reasons"]
            if any(reason in r for r in reasons) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert answer.status_code == 503, scorer.logs()
        assert any(r.startswith("Kafka ") and reason in r for r in reasons), (
            reasons,
            scorer.logs(),
        )

        assert scorer.process is not None
        pid = scorer.process.pid
        refused_before, lines_before = (
            _refused_at_broker(secure_broker),
            _client_log_lines(_log(scorer)),
        )
        cpu_before = _cpu_s(pid)
        time.sleep(WATCH_S)
        attempts = _refused_at_broker(secure_broker) - refused_before
        lines = _client_log_lines(_log(scorer)) - lines_before
        cpu = _cpu_s(pid) - cpu_before

        assert scorer.process.poll() is None, f"the scorer gave up:\n{scorer.logs()}"
        assert scorer.readyz().status_code == 503
        assert attempts > 0, "the broker saw no attempt: the scorer was not trying at all"
        assert attempts / WATCH_S <= MAX_ATTEMPTS_PER_S, f"{attempts} attempts in {WATCH_S} s"
        assert lines / WATCH_S <= MAX_CLIENT_LOG_LINES_PER_S, f"{lines} log lines in {WATCH_S} s"
        assert cpu / WATCH_S <= MAX_CPU_SHARE, f"{cpu:.1f} CPU s in {WATCH_S} s"
        log = _log(scorer)
        assert "kafka connection refused: fix the security settings" in log
        assert reason in log
        for secret in (secure_broker.password, wrong_password):
            assert secret not in log
        code, _took = scorer.terminate(timeout_s=30)
        assert code == 0, scorer.logs()
    finally:
        scorer.kill()
