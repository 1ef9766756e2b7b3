"""OAuth2 bearer JWTs, verified offline against the issuer's JWKS (a file, re-read on change).

Only asymmetric algorithms are accepted (never `none` or HS*, which would let anyone holding the
public key mint tokens); the signature, `iss`, `aud`, `exp` (required) and `nbf` are checked by
PyJWT. Scopes come from the `scope` claim (space-separated, RFC 8693/9068) or a `scp` list; the
client name from `client_id` (RFC 9068), else `azp`, else `sub`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import jwt

ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
LEEWAY_S: Final = 30
_CLIENT_NAME = re.compile(r"[^A-Za-z0-9._@:-]")


class InvalidTokenError(Exception):
    """Any reason a token is refused; the reason stays internal (the client gets a plain 401)."""


@dataclass(frozen=True)
class TokenClaims:
    client: str
    scopes: frozenset[str]


def parse_jwks(content: bytes) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(content))
    except (jwt.PyJWKSetError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"not a usable JWKS ({type(error).__name__})") from None


def verify_token(token: str, jwks: jwt.PyJWKSet, *, issuer: str, audience: str) -> TokenClaims:
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        candidates = [key for key in jwks.keys if kid is None or key.key_id == kid]
        if not candidates:
            raise InvalidTokenError("no key with this kid")
        last: Exception | None = None
        for key in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key=key,
                    algorithms=list(ALGORITHMS),
                    issuer=issuer,
                    audience=audience,
                    leeway=LEEWAY_S,
                    options={"require": ["exp", "iss", "aud"]},
                )
            except jwt.InvalidSignatureError as error:
                last = error
                continue
            return TokenClaims(_client(claims), _scopes(claims))
        raise InvalidTokenError(type(last).__name__)
    except jwt.PyJWTError as error:
        raise InvalidTokenError(type(error).__name__) from None


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(item for item in scp if isinstance(item, str))
    return frozenset()


def _client(claims: dict[str, Any]) -> str:
    for name in ("client_id", "azp", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            # It becomes a log field and a rate-limit key: bounded, in a plain alphabet.
            return "jwt:" + _CLIENT_NAME.sub("_", value)[:64]
    raise InvalidTokenError("no client claim")
