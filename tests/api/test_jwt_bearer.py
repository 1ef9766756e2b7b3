"""Bearer JWTs: what `verify_token` accepts, and the forgeries it refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from consumer.api.jwt_bearer import InvalidTokenError, TokenClaims, parse_jwks, verify_token
from tests.api.token_issuer import AUDIENCE, ISSUER, TokenIssuer


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


def verify(token: str, issuer: TokenIssuer) -> TokenClaims:
    jwks = parse_jwks(json.dumps(issuer.jwks()).encode())
    return verify_token(token, jwks, issuer=ISSUER, audience=AUDIENCE)


def test_scopes_and_client_come_from_the_standard_claims(issuer: TokenIssuer) -> None:
    claims = verify(issuer.token(scope="score model:read", client_id="crm/eu 1"), issuer)
    listed = verify(issuer.token(scope=None, scp=["score"], client_id=None, sub="svc"), issuer)

    assert claims == TokenClaims("jwt:crm_eu_1", frozenset({"score", "model:read"}))
    assert listed == TokenClaims("jwt:svc", frozenset({"score"}))


def test_a_token_without_expiry_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.token()
    payload = jwt.decode(token, options={"verify_signature": False})
    del payload["exp"]
    unexpiring = jwt.encode(payload, issuer._private, algorithm="RS256", headers={"kid": "k1"})

    with pytest.raises(InvalidTokenError):
        verify(unexpiring, issuer)


def test_an_hmac_token_keyed_with_the_public_key_is_refused(issuer: TokenIssuer) -> None:
    """The classic algorithm confusion: HS256 with the issuer's public key as the secret (built
    by hand, since PyJWT itself refuses to HMAC-sign with a PEM key)."""
    public_pem = issuer._private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = jwt.decode(issuer.token(), options={"verify_signature": False})
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())

    with pytest.raises(InvalidTokenError):
        verify(f"{header}.{body}.{signature}", issuer)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_from_an_unknown_key_id_is_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(InvalidTokenError):
        verify(TokenIssuer(kid="k9").token(), issuer)


def test_a_token_without_any_client_claim_is_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(InvalidTokenError):
        verify(issuer.token(client_id=None), issuer)


def test_a_jwks_that_is_not_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a usable JWKS"):
        parse_jwks(b'{"keys": "nope"}')
    with pytest.raises(ValueError, match="not a usable JWKS"):
        parse_jwks(b"not json")
