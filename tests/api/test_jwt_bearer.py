"""Bearer JWTs: what `verify_token` accepts, and the forgeries it refuses."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

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


def test_the_untampered_tokens_these_tests_alter_are_accepted(issuer: TokenIssuer) -> None:
    """The control for the refusals below: each starts from a token valid in every respect."""
    payload = jwt.decode(issuer.token(), options={"verify_signature": False})
    resigned = jwt.encode(payload, issuer._private, algorithm="RS256", headers={"kid": "k1"})
    assert verify(resigned, issuer).scopes == frozenset({"score"})
    with_hmac_key = _jwks_with_an_hmac_key(issuer)
    assert verify_token(resigned, with_hmac_key, issuer=ISSUER, audience=AUDIENCE).client


def test_an_unsigned_token_is_refused(issuer: TokenIssuer) -> None:
    """`alg: none`, the kid of a known key, every claim valid (exp, iss, aud, client, scope):
    only the missing signature can refuse it."""
    payload = jwt.decode(issuer.token(), options={"verify_signature": False})
    header = _b64(json.dumps({"alg": "none", "kid": "k1", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())

    with pytest.raises(InvalidTokenError):
        verify(f"{header}.{body}.", issuer)


_HMAC_SECRET = b"a-shared-secret-long-enough-for-hs256-32b"


def _jwks_with_an_hmac_key(issuer: TokenIssuer) -> jwt.PyJWKSet:
    """The issuer's JWKS plus a symmetric key: a JWKS that (wrongly) publishes an HMAC secret,
    or a key the file was never meant to hold."""
    oct_key = {"kty": "oct", "kid": "h1", "alg": "HS256", "k": _b64(_HMAC_SECRET)}
    return parse_jwks(json.dumps({"keys": [*issuer.jwks()["keys"], oct_key]}).encode())


def test_an_hmac_token_is_refused_even_with_its_key_in_the_jwks(issuer: TokenIssuer) -> None:
    """Only asymmetric algorithms are accepted (`ALGORITHMS`): anyone who can read an HMAC key
    can mint tokens with it. The token is valid in every other respect and its key is in the
    JWKS, so only the algorithm list refuses it (PyJWT alone would take the key's own alg)."""
    payload = jwt.decode(issuer.token(), options={"verify_signature": False})
    token = jwt.encode(payload, _HMAC_SECRET, algorithm="HS256", headers={"kid": "h1"})

    with pytest.raises(InvalidTokenError):
        verify_token(token, _jwks_with_an_hmac_key(issuer), issuer=ISSUER, audience=AUDIENCE)


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
