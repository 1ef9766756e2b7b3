"""Service configuration: environment variables (and an optional env file), validated at start.

The variable names are a contract with whoever deploys us (compose, the Helm chart, a bank's
platform team), so they are spelled out here once and nowhere else. Secrets are `SecretStr`: they
reach librdkafka but never a log line or a repr. Reading the environment (unknown names refused)
is in environment.py; masking secrets for a log line in redaction.py.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from consumer.config.redaction import redact_kafka_config

Delivery = Literal["exactly-once", "at-least-once"]
AutoOffsetReset = Literal["earliest", "latest"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]

# librdkafka keys the service sets itself; letting extra config override them would silently
# break a delivery guarantee, so they are refused with a clear error instead.
RESERVED_KAFKA_KEYS = frozenset(
    {
        "bootstrap.servers",
        "group.id",
        "transactional.id",
        "enable.idempotence",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "isolation.level",
        "partition.assignment.strategy",
        "sasl.username",
        "sasl.password",
    }
)

DEFAULT_MODEL_DIR = Path("build/model")
ChallengerMode = Literal["shadow", "canary"]


class ChallengerSetting(BaseModel):
    """One challenger beside the champion (an element of LOAN_SCORER_CHALLENGERS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_dir: Path
    mode: ChallengerMode = "shadow"
    # Canary only: the share of applications (by a stable hash of application_id) it decides.
    share: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _share_fits_the_mode(self) -> ChallengerSetting:
        if self.mode == "canary" and self.share <= 0:
            raise ValueError("a canary needs a share above 0")
        if self.mode == "shadow" and self.share != 0:
            raise ValueError("a shadow challenger scores every application: leave share out")
        return self


ENV_PREFIX = "LOAN_SCORER_"


class Settings(BaseSettings):
    """Everything `loan-scorer run` can be told, with its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        env_ignore_empty=True,
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    input_topic: str = "loan-applications"
    output_topic: str = "loan-scores"
    dlq_topic: str = "loan-applications.dlq"
    group_id: str = "loan-scorer"
    http_host: str = "0.0.0.0"  # noqa: S104  # a container's port is only reachable on all interfaces
    http_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    model_dir: Path = DEFAULT_MODEL_DIR
    # A registry URI (models:/loan-scorer@champion) to serve instead of model_dir; the model is
    # fetched from MLflow (MLFLOW_TRACKING_URI) and verified like a directory.
    model_uri: Annotated[str | None, Field(pattern=r"^models:/[^@/]+(@[^@/]+|/[0-9]+)$")] = None
    # Where the registry client keeps its embedded store and the models it fetched (read by
    # registry.store from the same variable).
    mlflow_home: Path = Path("build/mlflow")
    policy_file: Path | None = None
    delivery: Delivery = "exactly-once"
    # Where a consumer group without committed offsets starts: "earliest" scores everything the
    # input topic still retains (nothing sent before the first deployment is skipped, but a first
    # deployment re-scores the topic's whole retention); "latest" scores only what arrives next.
    auto_offset_reset: AutoOffsetReset = "earliest"

    # Upstream duplicates: an event_id scored within this window gets no second score (0: off).
    # The scored ids live in a compacted changelog topic (default: GROUP_ID-scored-ids-changelog).
    dedup_window_s: Annotated[float, Field(ge=0, le=90 * 86_400)] = 7 * 86_400.0
    dedup_topic: str | None = None
    # Where the scored ids of each assigned partition are kept on disk (one RocksDB store per
    # partition, under <state_dir>/<changelog topic>/<partition>): a volume that survives a
    # restart makes it read only the changelog's tail; an empty one restores from the changelog.
    state_dir: Path = Path("state")
    # The block cache shared by every partition's store: with the write buffers charged to it,
    # the state's memory, whatever the window or the rate.
    state_cache_mb: Annotated[int, Field(ge=48, le=65_536)] = 64

    # The cap on a micro-batch. Batches form by themselves (consumer/kafka/batching.py): small at a
    # steady rate, larger only while a backlog is being caught up, which is when a bigger one
    # pays: a transaction's round trips (about 5, sequential) cost the same whatever its size,
    # and under an upstream producer's load a batch of 500 spent 19 ms publishing, the loop
    # waiting. At 500 a backlog at 80 % of the maximum never cleared (p99 2.2 s); at 2,000 it
    # can (p99 215 ms in one run, 2.5 s in the next: the capacity with a producer's load sits
    # right at 80 % of the draining maximum; benchmarks/RESULTS.md, 2026-11-28).
    batch_max_events: Annotated[int, Field(ge=1, le=100_000)] = 2_000
    # Once a batch's first event is in, how long to wait for more (0: take what has arrived).
    batch_linger_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    shutdown_timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0

    # A stable id per instance (pod name under a StatefulSet, hostname otherwise): a restarted
    # instance fences its predecessor and aborts its open transaction at once (see docs).
    instance_id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default_factory=socket.gethostname
    )
    transaction_timeout_ms: Annotated[int, Field(ge=1_000, le=900_000)] = 10_000
    kafka_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    statistics_interval_ms: Annotated[int, Field(ge=0, le=600_000)] = 5_000
    # /healthz fails when the Kafka loop has not completed an iteration for this long (every call
    # in an iteration is bounded well below it), so a stuck loop is restarted.
    liveness_stall_s: Annotated[float, Field(ge=10, le=3_600)] = 180.0

    kafka_security_protocol: SecurityProtocol | None = None
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # The CA bundle (PEM) the brokers' certificates are checked against; None: the system's.
    kafka_ssl_ca_location: Path | None = None
    # Any other librdkafka setting (security.protocol, sasl.mechanism, ssl.ca.location, ...) as a
    # JSON object, so SASL/TLS need no code change.
    kafka_extra_config: Annotated[dict[str, str | int | float | bool], NoDecode] = Field(
        default_factory=dict, repr=False
    )

    log_level: LogLevel = "INFO"

    # HTTP API security (docs/SECURITY.md). Authentication is on by default: with neither a key
    # file nor a JWKS configured, /v1/score and /v1/model refuse everyone.
    api_auth_enabled: bool = True
    # API keys, stored hashed (`loan-scorer api-key create`); re-read when the file changes.
    api_keys_file: Path | None = None
    # OAuth2 bearer JWTs: the issuer's JWKS as a file (re-read when it changes), checked with the
    # issuer and audience below (both required when the JWKS is set).
    jwt_jwks_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Per-client token bucket: sustained requests per second and the burst above it.
    api_rate_per_s: Annotated[float, Field(gt=0, le=100_000)] = 20.0
    api_rate_burst: Annotated[int, Field(ge=1, le=100_000)] = 40
    # A request body must arrive whole within this time (slow uploads hold no scoring slot).
    http_body_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    # uvicorn's cap on connections and tasks at once; above it, 503 at once.
    http_limit_concurrency: Annotated[int, Field(ge=16, le=100_000)] = 64
    # Serve /healthz, /readyz and /metrics on this port instead of the API's (None: same port).
    http_ops_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    # /docs and /openapi.json (off in the chart's production values).
    api_docs_enabled: bool = True
    # HTTPS on the API port from a mounted certificate and key (PEM); both or neither.
    http_tls_cert_file: Path | None = None
    http_tls_key_file: Path | None = None
    # Challengers beside the champion (consumer/pipeline/challengers.py), as a JSON list of
    # {"model_dir": ..., "mode": "shadow"|"canary", "share": 0..1 (canary only)}.
    challengers: Annotated[tuple[ChallengerSetting, ...], NoDecode] = ()
    shadow_topic: str = "loan-scores.shadow"

    # `loan-scorer outcomes`: the second consumer group joining scores to real outcomes.
    outcomes_topic: str = "loan-outcomes"
    outcomes_group_id: str = "loan-scorer-outcomes"
    outcomes_store: Path = Path("build/outcomes.sqlite3")
    outcomes_http_port: Annotated[int, Field(ge=1, le=65535)] = 8001
    outcomes_metrics_interval_s: Annotated[float, Field(gt=0, le=3_600)] = 10.0
    # A schema registry's Confluent-compatible API (unset: plain JSON in and out, as before). With
    # it, inputs may arrive in the registry's wire format too, and scores are written in it
    # (consumer/kafka/schema_registry.py); credentials are HTTP basic auth.
    schema_registry_url: str | None = None
    schema_registry_username: str | None = None
    schema_registry_password: SecretStr | None = None
    schema_registry_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    # Readiness: not ready while the input topic is missing (checked every interval), or while no
    # partition has been assigned for this long (0: never judged on assignment).
    readiness_topic_check_interval_s: Annotated[float, Field(gt=0, le=3_600)] = 15.0
    readiness_assignment_timeout_s: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    # Every retry loop (a batch read again after an abort or a failed delivery, a state restore,
    # the producer's init_transactions): failing for this long without a success makes /readyz
    # 503 naming the cause and sets loan_scorer_retry_stalled; for RETRY_EXIT_AFTER_S, the
    # process exits 1 (a broker restart took ~28 s to answer: both sit well above it).
    retry_unready_after_s: Annotated[float, Field(ge=1, le=86_400)] = 60.0
    retry_exit_after_s: Annotated[float, Field(ge=1, le=86_400)] = 300.0
    # Transactional producers replaced (after a stuck call or a recoverable fence) more than
    # this many times within the window stop the process (exit 1): a cap, not a leak.
    producer_replacements_max: Annotated[int, Field(ge=1, le=1_000)] = 20
    producer_replacements_window_s: Annotated[float, Field(ge=1, le=86_400)] = 600.0

    @field_validator("schema_registry_url")
    @classmethod
    def _no_credentials_in_the_url(cls, value: str | None) -> str | None:
        """A URL is logged with the settings; a password inside it would be too."""
        if value is not None and "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "must not carry credentials: use LOAN_SCORER_SCHEMA_REGISTRY_USERNAME and "
                "..._PASSWORD"
            )
        return value

    @field_validator("kafka_extra_config", mode="before")
    @classmethod
    def _parse_json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object of librdkafka settings: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object of librdkafka settings")
        return value

    @field_validator("challengers", mode="before")
    @classmethod
    def _parse_json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON list of challengers: {exc}") from None
        if not isinstance(value, list | tuple):
            raise ValueError("must be a JSON list of challengers")
        return value

    @field_validator("challengers")
    @classmethod
    def _canary_shares_fit(
        cls, value: tuple[ChallengerSetting, ...]
    ) -> tuple[ChallengerSetting, ...]:
        total = sum(challenger.share for challenger in value if challenger.mode == "canary")
        if total > 1:
            raise ValueError(f"the canary shares add up to {total:g}, more than 1")
        return value

    @field_validator("kafka_extra_config")
    @classmethod
    def _no_reserved_keys(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        reserved = sorted(RESERVED_KAFKA_KEYS.intersection(value))
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)} cannot be set through extra config: "
                "use the dedicated LOAN_SCORER_* variable"
            )
        return value

    @model_validator(mode="after")
    def _topics_differ(self) -> Settings:
        topics = [self.input_topic, self.output_topic, self.dlq_topic, self.changelog_topic]
        if len(set(topics)) != len(topics):
            raise ValueError(
                "input, output, dead-letter and dedup changelog topics must all be different"
            )
        if self.jwt_jwks_file is not None and (
            self.jwt_issuer is None or self.jwt_audience is None
        ):
            raise ValueError(
                "LOAN_SCORER_JWT_JWKS_FILE needs LOAN_SCORER_JWT_ISSUER and ..._JWT_AUDIENCE"
            )
        if (self.http_tls_cert_file is None) != (self.http_tls_key_file is None):
            raise ValueError("set both LOAN_SCORER_HTTP_TLS_CERT_FILE and ..._KEY_FILE, or neither")
        if self.retry_exit_after_s <= self.retry_unready_after_s:
            raise ValueError(
                "LOAN_SCORER_RETRY_EXIT_AFTER_S must exceed LOAN_SCORER_RETRY_UNREADY_AFTER_S: "
                "ops see the cause on /readyz before the process exits"
            )
        if self.http_ops_port is not None and self.http_ops_port == self.http_port:
            raise ValueError("LOAN_SCORER_HTTP_OPS_PORT must differ from LOAN_SCORER_HTTP_PORT")
        if self.shadow_topic in topics or self.outcomes_topic in [*topics, self.shadow_topic]:
            raise ValueError("the shadow and outcomes topics must differ from the others")
        if (self.kafka_sasl_password is None) != (self.kafka_sasl_username is None):
            raise ValueError(
                "set both LOAN_SCORER_KAFKA_SASL_USERNAME and ..._PASSWORD, or neither"
            )
        # Extra config may carry the same keys (the Helm chart's kafka.extraConfig does); two
        # different values would leave the reader guessing which one librdkafka gets.
        for key, value in self._security_config().items():
            other = self.kafka_extra_config.get(key)
            if other is not None and str(other) != value:
                raise ValueError(
                    f"{key} is {value!r} in its LOAN_SCORER_* variable but {other!r} in "
                    "LOAN_SCORER_KAFKA_EXTRA_CONFIG: set it in one place"
                )
        if (self.schema_registry_password is None) != (self.schema_registry_username is None):
            raise ValueError(
                "set both LOAN_SCORER_SCHEMA_REGISTRY_USERNAME and ..._PASSWORD, or neither"
            )
        return self

    def _security_config(self) -> dict[str, str]:
        config: dict[str, str] = {}
        if self.kafka_security_protocol is not None:
            config["security.protocol"] = self.kafka_security_protocol
        if self.kafka_sasl_mechanism is not None:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_ssl_ca_location is not None:
            config["ssl.ca.location"] = str(self.kafka_ssl_ca_location)
        return config

    @property
    def changelog_topic(self) -> str:
        """Where the ids of scored events are kept for deduplication: one per consumer group,
        named like a Kafka Streams changelog (`<application id>-<store>-changelog`), since two
        groups reading the same input (a second deployment, a challenger) each score it once."""
        return self.dedup_topic or f"{self.group_id}-scored-ids-changelog"

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}-{self.instance_id}"

    def kafka_common_config(self) -> dict[str, str | int | float | bool]:
        """Settings every client shares, secrets included: hand this to librdkafka only."""
        config: dict[str, str | int | float | bool] = {
            # A login the brokers refuse or a certificate we do not trust is retried by librdkafka
            # for ever. With its defaults that was ~26 failed TLS handshakes a second at the
            # broker (tests/security, measured broker-side): a connection is sought every
            # reconnect.backoff.ms / 2 for each request waiting on metadata, and the backoff does
            # not grow when the TCP connect succeeds and TLS or SASL fails. 2 s makes it ~4/s for
            # a wrong CA, under 1/s for a wrong password; reconnect.backoff.max.ms (10 s) still
            # bounds how long a broker that is back waits to be retried, so recovery is unchanged.
            "reconnect.backoff.ms": 2_000,
            # librdkafka (2.10+) re-bootstraps when every broker is down, with fresh broker
            # handles: each failed attempt then logged a line (1,685 lines in 20 s, against 112).
            "metadata.recovery.strategy": "none",
            "bootstrap.servers": self.kafka_bootstrap_servers,
            **self._security_config(),
            **self.kafka_extra_config,
        }
        if self.kafka_sasl_username is not None and self.kafka_sasl_password is not None:
            config["sasl.username"] = self.kafka_sasl_username
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        return config

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as it may be logged: secrets replaced by '**********'."""
        dumped = self.model_dump(mode="json")
        dumped["kafka_extra_config"] = redact_kafka_config(self.kafka_extra_config)
        dumped["transactional_id"] = self.transactional_id
        return dumped
