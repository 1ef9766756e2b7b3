"""Who is calling: an API key or an OAuth2 bearer JWT, as an `Annotated` dependency per scope.

Every refusal is the same 401 (no credential, an unknown key, a bad signature, an expired token,
the wrong issuer or audience all look alike to the caller) or the same 403 (a valid credential
without the scope), so a prober learns nothing about which part failed. The reason is logged for
operators by class name only, never with the credential.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jwt

from consumer.api.api_keys import KEY_PREFIX, SCOPES, StoredKey, find_key, parse_key_file
from consumer.api.jwt_bearer import InvalidTokenError, parse_jwks, verify_token
from consumer.api.problems import ApiError
from consumer.api.watched_file import WatchedFile

logger = logging.getLogger(__name__)

_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="loan-scorer"'}


@dataclass(frozen=True)
class Principal:
    client: str
    scopes: frozenset[str]


ANONYMOUS: Final = Principal("anonymous", SCOPES)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "A valid credential is required", headers=dict(_CHALLENGE))


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", "The credential does not grant access to this resource")


@dataclass(frozen=True)
class JwtIssuer:
    jwks: WatchedFile[jwt.PyJWKSet]
    issuer: str
    audience: str


class Authenticator:
    """Turns an `Authorization` header into a `Principal`, or refuses with a plain 401."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        keys: WatchedFile[tuple[StoredKey, ...]] | None = None,
        jwt_issuer: JwtIssuer | None = None,
    ) -> None:
        self.enabled = enabled
        self._keys = keys
        self._jwt = jwt_issuer

    @classmethod
    def from_files(
        cls,
        *,
        enabled: bool,
        keys_file: Path | None,
        jwks_file: Path | None,
        issuer: str | None,
        audience: str | None,
    ) -> Authenticator:
        """Reads the files now: a missing or malformed one stops the start (raises)."""
        keys = WatchedFile(keys_file, parse_key_file) if keys_file is not None else None
        issuer_config = None
        if jwks_file is not None:
            if issuer is None or audience is None:
                raise ValueError("a JWKS needs an issuer and an audience")
            issuer_config = JwtIssuer(WatchedFile(jwks_file, parse_jwks), issuer, audience)
        if enabled and keys is None and issuer_config is None:
            logger.warning(
                "authentication is on but no API key file or JWKS is configured: "
                "the scoring and model routes refuse every request"
            )
        return cls(enabled=enabled, keys=keys, jwt_issuer=issuer_config)

    def authenticate(self, authorization: str | None) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized()
        if credential.startswith(KEY_PREFIX) and self._keys is not None:
            keys = self._keys.current()  # None: the key file is missing or broken, refuse all
            stored = find_key(keys, credential) if keys is not None else None
            if stored is not None:
                return Principal(stored.client, stored.scopes)
            logger.debug("refused: unknown API key")  # counted by status in the HTTP metrics
            raise unauthorized()
        if credential.count(".") == 2 and self._jwt is not None:
            jwks = self._jwt.jwks.current()
            if jwks is None:  # the JWKS file is missing or broken: no signature can be checked
                logger.debug("refused: no usable JWKS")
                raise unauthorized()
            try:
                claims = verify_token(
                    credential,
                    jwks,
                    issuer=self._jwt.issuer,
                    audience=self._jwt.audience,
                )
            except InvalidTokenError as error:
                logger.debug("refused: invalid bearer token", extra={"why": str(error)})
                raise unauthorized() from None
            return Principal(claims.client, claims.scopes)
        raise unauthorized()
