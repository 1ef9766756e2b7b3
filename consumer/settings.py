"""Service configuration: environment variables (and an optional env file), validated at start.

The variable names are a contract with whoever deploys us (compose, the Helm chart, a bank's
platform team), so they are spelled out here once and nowhere else. Secrets are `SecretStr`: they
reach librdkafka but never a log line or a repr.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Delivery = Literal["exactly-once", "at-least-once"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

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
# Keys whose values are secrets even when passed through extra config.
SECRET_KAFKA_KEY_MARKERS = ("password", "secret", "key.pem", "sasl.oauthbearer.config")

DEFAULT_MODEL_DIR = Path("build/model")


class Settings(BaseSettings):
    """Everything `loan-scorer run` can be told, with its default."""

    model_config = SettingsConfigDict(
        env_prefix="LOAN_SCORER_",
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
    policy_file: Path | None = None
    delivery: Delivery = "exactly-once"

    batch_max_events: Annotated[int, Field(ge=1, le=100_000)] = 500
    batch_linger_ms: Annotated[int, Field(ge=0, le=60_000)] = 20
    shutdown_timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0

    # A stable id per instance (pod name under a StatefulSet, hostname otherwise): a restarted
    # instance fences its predecessor and aborts its open transaction at once (see docs).
    instance_id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default_factory=socket.gethostname
    )
    transaction_timeout_ms: Annotated[int, Field(ge=1_000, le=900_000)] = 10_000
    kafka_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    statistics_interval_ms: Annotated[int, Field(ge=0, le=600_000)] = 5_000

    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # Any other librdkafka setting (security.protocol, sasl.mechanism, ssl.ca.location, ...) as a
    # JSON object, so SASL/TLS need no code change.
    kafka_extra_config: Annotated[dict[str, str | int | float | bool], NoDecode] = Field(
        default_factory=dict, repr=False
    )

    log_level: LogLevel = "INFO"

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
        topics = [self.input_topic, self.output_topic, self.dlq_topic]
        if len(set(topics)) != len(topics):
            raise ValueError("input, output and dead-letter topics must be three different topics")
        if (self.kafka_sasl_password is None) != (self.kafka_sasl_username is None):
            raise ValueError(
                "set both LOAN_SCORER_KAFKA_SASL_USERNAME and ..._PASSWORD, or neither"
            )
        return self

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}-{self.instance_id}"

    def kafka_common_config(self) -> dict[str, str | int | float | bool]:
        """Settings every client shares, secrets included: hand this to librdkafka only."""
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
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


def redact_kafka_config(config: dict[str, Any]) -> dict[str, Any]:
    """Copy of a librdkafka config with secret-looking values masked."""
    return {
        key: "**********" if any(marker in key for marker in SECRET_KAFKA_KEY_MARKERS) else value
        for key, value in config.items()
    }


def load_settings(env_file: Path | None = None) -> Settings:
    """Read the environment (and the env file if given; the environment wins)."""
    if env_file is not None and not env_file.is_file():
        raise FileNotFoundError(f"settings file not found: {env_file}")
    return Settings(_env_file=env_file)
