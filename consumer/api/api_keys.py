"""API keys: generated with 256 bits of randomness, stored only as their SHA-256, one line each.

Why SHA-256 and not a password hash (argon2, scrypt, bcrypt): those are slow on purpose because
passwords are guessable, so an attacker holding the hashes must pay per guess. A key from
`secrets.token_urlsafe(32)` has 256 bits of entropy; no guessing pays against it, so a slow KDF
would only add tens of milliseconds to every request (an amplifier for abuse) without adding
security. Lookup compares the SHA-256 of the presented key with every stored hash through
`hmac.compare_digest`, without stopping at the first match, so timing says nothing about which
(or whether a) stored hash is close.

The key file, one key per line (`#` comments and blank lines ignored):

    CLIENT_NAME sha256:HEX SCOPE[,SCOPE...]

e.g. `crm sha256:3f1c... score,model:read`. The client name is what audit lines and rate limits
key on; several lines may share a name (a key being rotated in beside its successor).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final, Literal, get_args

Scope = Literal["score", "model:read"]
SCOPES: Final[frozenset[str]] = frozenset(get_args(Scope))
KEY_PREFIX: Final = "lsk_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HASH = re.compile(r"sha256:([0-9a-f]{64})")


class KeyFileError(ValueError):
    """A line of the key file is malformed; the message names the line, never its content."""


@dataclass(frozen=True)
class StoredKey:
    client: str
    digest: bytes
    scopes: frozenset[str]

    def line(self) -> str:
        return f"{self.client} sha256:{self.digest.hex()} {','.join(sorted(self.scopes))}"


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key(client: str, scopes: frozenset[str]) -> tuple[str, StoredKey]:
    """A fresh key (shown once, never stored) and the line that stores its hash."""
    _check_entry(client, scopes, where="the new key")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, StoredKey(client, key_digest(key), scopes)


def parse_key_file(content: bytes) -> tuple[StoredKey, ...]:
    keys: list[StoredKey] = []
    for number, raw in enumerate(content.decode("utf-8", errors="strict").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise KeyFileError(f"line {number}: expected CLIENT sha256:HEX SCOPES")
        client, hashed, scope_list = parts
        match = _HASH.fullmatch(hashed)
        if match is None:
            raise KeyFileError(f"line {number}: the hash must be sha256: and 64 hex digits")
        scopes = frozenset(scope_list.split(","))
        _check_entry(client, scopes, where=f"line {number}")
        keys.append(StoredKey(client, bytes.fromhex(match.group(1)), scopes))
    return tuple(keys)


def _check_entry(client: str, scopes: frozenset[str], *, where: str) -> None:
    if _NAME.fullmatch(client) is None:
        raise KeyFileError(f"{where}: a client name is 1-64 of A-Z a-z 0-9 . _ -")
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise KeyFileError(f"{where}: scopes must be among {', '.join(sorted(SCOPES))}")


def find_key(keys: tuple[StoredKey, ...], presented: str) -> StoredKey | None:
    """The stored key matching `presented`, comparing against every entry in constant time."""
    digest = key_digest(presented)
    found: StoredKey | None = None
    for stored in keys:
        if hmac.compare_digest(stored.digest, digest):
            found = stored
    return found
