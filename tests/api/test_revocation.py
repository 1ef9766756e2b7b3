"""Revoking by deleting or breaking a credential file refuses every credential it held, at once
(after the file check interval), and a valid file brings them back: the authenticator fails
closed rather than keeping the last good content in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.api.api_keys import new_key, parse_key_file
from consumer.api.auth import Authenticator, JwtIssuer
from consumer.api.jwt_bearer import parse_jwks
from consumer.api.problems import ApiError
from consumer.api.watched_file import WatchedFile
from tests.api.token_issuer import AUDIENCE, ISSUER, TokenIssuer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refused(authenticator: Authenticator, credential: str) -> bool:
    """True for the plain 401 of an unknown credential; False when it is accepted."""
    try:
        authenticator.authenticate(f"Bearer {credential}")
    except ApiError as error:
        return error.status_code == 401
    return False


@pytest.mark.parametrize("damage", ["delete", "corrupt", "empty"])
def test_a_deleted_or_broken_key_file_refuses_every_key(tmp_path: Path, damage: str) -> None:
    key, stored = new_key("crm", frozenset({"score"}))
    path = tmp_path / "keys"
    path.write_text(stored.line() + "\n")
    clock = Clock()
    authenticator = Authenticator(keys=WatchedFile(path, parse_key_file, clock=clock))
    assert not refused(authenticator, key)

    if damage == "delete":
        path.unlink()
    elif damage == "corrupt":
        path.write_text(stored.line() + "\nnot a key line\n")
    else:
        path.write_text("")  # a valid file holding no key: revokes by content
    clock.now += 1.0
    assert refused(authenticator, key)

    path.write_text(stored.line() + "\n")
    clock.now += 1.0
    assert not refused(authenticator, key)


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_a_deleted_or_broken_jwks_refuses_every_token(tmp_path: Path, damage: str) -> None:
    issuer = TokenIssuer()
    path = issuer.write_jwks(tmp_path / "jwks.json")
    clock = Clock()
    authenticator = Authenticator(
        jwt_issuer=JwtIssuer(WatchedFile(path, parse_jwks, clock=clock), ISSUER, AUDIENCE)
    )
    token = issuer.token()
    assert not refused(authenticator, token)

    if damage == "delete":
        path.unlink()
    else:
        path.write_text('{"keys": [')
    clock.now += 1.0
    assert refused(authenticator, token)

    issuer.write_jwks(path)
    clock.now += 1.0
    assert not refused(authenticator, token)
