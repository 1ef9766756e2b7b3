"""Secrets masked before a configuration is logged: a librdkafka key may carry a password."""

from __future__ import annotations

from typing import Any

# Keys whose values are secrets even when passed through extra config.
SECRET_KAFKA_KEY_MARKERS = ("password", "secret", "key.pem", "sasl.oauthbearer.config")


def redact_kafka_config(config: dict[str, Any]) -> dict[str, Any]:
    """Copy of a librdkafka config with secret-looking values masked."""
    return {
        key: "**********" if any(marker in key for marker in SECRET_KAFKA_KEY_MARKERS) else value
        for key, value in config.items()
    }
