"""API keys: generated, stored as SHA-256 lines, parsed strictly, found in constant time."""

from __future__ import annotations

import hashlib

import pytest

from consumer.api.api_keys import (
    KEY_PREFIX,
    KeyFileError,
    StoredKey,
    find_key,
    new_key,
    parse_key_file,
)


def test_a_new_key_is_random_prefixed_and_stored_only_as_its_sha256() -> None:
    key, stored = new_key("crm", frozenset({"score"}))
    other, _ = new_key("crm", frozenset({"score"}))

    assert key.startswith(KEY_PREFIX)
    assert len(key) >= len(KEY_PREFIX) + 43  # 32 random bytes in URL-safe base64
    assert key != other
    assert stored.digest == hashlib.sha256(key.encode()).digest()
    assert key not in stored.line()
    assert stored.line() == f"crm sha256:{hashlib.sha256(key.encode()).hexdigest()} score"


def test_a_stored_line_parses_back_to_the_same_key() -> None:
    key, stored = new_key("analytics", frozenset({"score", "model:read"}))
    content = f"# rotated 2026-11-27\n\n  {stored.line()}  \n".encode()

    assert parse_key_file(content) == (stored,)
    assert find_key(parse_key_file(content), key) == stored


def test_find_key_matches_the_exact_key_only() -> None:
    key, stored = new_key("crm", frozenset({"score"}))
    _, other = new_key("branch", frozenset({"score"}))
    keys = (other, stored)

    assert find_key(keys, key) == stored
    assert find_key(keys, key[:-1]) is None
    assert find_key(keys, key + "x") is None
    assert find_key((), key) is None


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("crm sha256:abc score", "64 hex"),
        ("crm md5:" + "a" * 64 + " score", "64 hex"),
        ("crm sha256:" + "a" * 64, "expected CLIENT"),
        ("crm sha256:" + "a" * 64 + " score,admin", "scopes must be among"),
        ("bad/name sha256:" + "a" * 64 + " score", "client name"),
    ],
)
def test_a_malformed_line_is_refused_naming_the_line_not_its_content(
    line: str, complaint: str
) -> None:
    with pytest.raises(KeyFileError) as raised:
        parse_key_file(f"# header\n{line}\n".encode())

    assert str(raised.value).startswith("line 2: ")
    assert complaint in str(raised.value)
    assert "a" * 64 not in str(raised.value)


def test_a_new_key_needs_a_known_scope_and_a_plain_name() -> None:
    with pytest.raises(KeyFileError):
        new_key("crm", frozenset())
    with pytest.raises(KeyFileError):
        new_key("crm", frozenset({"admin"}))
    with pytest.raises(KeyFileError):
        new_key("two words", frozenset({"score"}))


def test_stored_key_line_sorts_scopes() -> None:
    stored = StoredKey("crm", b"\x00" * 32, frozenset({"score", "model:read"}))
    assert stored.line().endswith(" model:read,score")
