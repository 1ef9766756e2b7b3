"""The API security settings: safe defaults, and the combinations refused at start."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from consumer.api.api_keys import find_key, parse_key_file
from consumer.cli import app
from consumer.config.settings import Settings


def test_authentication_is_on_by_default() -> None:
    settings = Settings()
    assert settings.api_auth_enabled is True
    assert settings.api_keys_file is None
    assert settings.jwt_jwks_file is None
    assert settings.http_ops_port is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"jwt_jwks_file": "jwks.json"}, "needs LOAN_SCORER_JWT_ISSUER"),
        ({"jwt_jwks_file": "jwks.json", "jwt_issuer": "https://i"}, "needs LOAN_SCORER_JWT"),
        ({"http_ops_port": 8000}, "must differ"),
        ({"http_tls_cert_file": "cert.pem"}, "LOAN_SCORER_HTTP_TLS_CERT_FILE"),
        ({"http_limit_concurrency": 8}, "greater than or equal to 16"),
        ({"api_rate_per_s": 0}, "greater than 0"),
    ],
)
def test_unsafe_or_incomplete_combinations_are_refused(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(fields)


def test_api_key_create_prints_the_key_once_and_the_line_that_stores_its_hash() -> None:
    result = CliRunner().invoke(
        app, ["api-key", "create", "--name", "crm", "--scope", "score", "--scope", "model:read"]
    )

    assert result.exit_code == 0, result.output
    key, line = result.stdout.splitlines()[:2]
    assert line == f"crm sha256:{hashlib.sha256(key.encode()).hexdigest()} model:read,score"
    (stored,) = parse_key_file(line.encode())
    assert find_key((stored,), key) == stored


def test_api_key_create_refuses_an_unknown_scope() -> None:
    result = CliRunner().invoke(app, ["api-key", "create", "--name", "crm", "--scope", "admin"])

    assert result.exit_code == 2
    assert "scopes must be among" in result.output
