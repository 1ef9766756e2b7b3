"""API keys for the API tests: a key file with one client holding every scope, and the state and
headers that use it, so every route test goes through authentication as a real client does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consumer.api.api_keys import StoredKey, new_key
from consumer.api.auth import Authenticator
from consumer.api.rate_limit import RateLimiter
from consumer.api.state import ApiState
from consumer.runtime.service import new_metrics
from consumer.telemetry.readiness import Readiness

FULL_KEY, FULL_STORED = new_key("tests", frozenset({"score", "model:read"}))
AUTH = {"Authorization": f"Bearer {FULL_KEY}"}


def write_key_file(path: Path, *stored: StoredKey) -> Path:
    path.write_text("# written by the tests\n" + "".join(f"{s.line()}\n" for s in stored))
    return path


def authenticated_state(key_file: Path, **fields: Any) -> ApiState:
    """An `ApiState` whose authenticator reads `key_file`; a rate limit no test reaches unless it
    passes its own `rate_limiter`."""
    fields.setdefault("readiness", Readiness())
    fields.setdefault("metrics", new_metrics())
    fields.setdefault("rate_limiter", RateLimiter(1_000_000.0, 1_000_000))
    authenticator = Authenticator.from_files(
        enabled=True, keys_file=key_file, jwks_file=None, issuer=None, audience=None
    )
    return ApiState(auth=authenticator, **fields)
