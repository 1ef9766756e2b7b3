"""A stand-in OAuth2 issuer for the tests: an RSA key pair, its JWKS file, tokens it signs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://login.bank.example/realms/credit"
AUDIENCE = "loan-scorer"


class TokenIssuer:
    def __init__(self, kid: str = "k1") -> None:
        self.kid = kid
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._private.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(self, scope: str | None = "score", lifetime_s: float = 300.0, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "client_id": "underwriting-ui",
            "iat": now,
            "exp": now + int(lifetime_s),
            "scope": scope,
            **claims,
        }
        return jwt.encode(payload, self._private, algorithm="RS256", headers={"kid": self.kid})
