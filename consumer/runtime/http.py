"""The scorer's HTTP side: the API state read from the credential files, and its servers."""

from __future__ import annotations

from consumer.api.api_keys import KeyFileError
from consumer.api.app import create_app
from consumer.api.auth import Authenticator
from consumer.api.rate_limit import RateLimiter
from consumer.api.server import ApiServer
from consumer.api.state import ApiState
from consumer.config.settings import Settings
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness


def http_servers(settings: Settings, state: ApiState) -> list[ApiServer]:
    """The API on its port, and the probes with /metrics on the ops port when one is set."""
    docs = settings.api_docs_enabled
    limit = settings.http_limit_concurrency
    tls = None
    if settings.http_tls_cert_file is not None and settings.http_tls_key_file is not None:
        tls = (settings.http_tls_cert_file, settings.http_tls_key_file)
    if settings.http_ops_port is None:
        app = create_app(state, docs=docs)
        return [
            ApiServer(app, settings.http_host, settings.http_port, limit_concurrency=limit, tls=tls)
        ]
    return [
        ApiServer(
            create_app(state, part="api", docs=docs),
            settings.http_host,
            settings.http_port,
            limit_concurrency=limit,
            tls=tls,
        ),
        ApiServer(
            create_app(state, part="ops", docs=False),
            settings.http_host,
            settings.http_ops_port,
            limit_concurrency=limit,
            name="http-ops",
        ),
    ]


def api_state_for(
    settings: Settings, readiness: Readiness, metrics: ScorerMetrics, liveness: Liveness
) -> ApiState:
    """Reads the credential files now: a missing or malformed one raises (OSError, ValueError)."""
    return ApiState(
        readiness=readiness,
        metrics=metrics,
        liveness=liveness,
        auth=Authenticator.from_files(
            enabled=settings.api_auth_enabled,
            keys_file=settings.api_keys_file,
            jwks_file=settings.jwt_jwks_file,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        ),
        rate_limiter=RateLimiter(settings.api_rate_per_s, settings.api_rate_burst),
        body_timeout_s=settings.http_body_timeout_s,
    )


def safe_credential_error(error: Exception) -> str:
    if isinstance(error, KeyFileError | OSError):
        return str(error)  # a line number or a path, never content
    return "the file does not parse"
