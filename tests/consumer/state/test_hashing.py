"""The content hash kept beside each id."""

from __future__ import annotations

from consumer.state.hashing import UNKNOWN_CONTENT_HASH, content_hash

APPLICATION = b'{"amount":1000,"income":150}'


def test_the_hash_is_blake2b_128_and_stable_across_runs() -> None:
    # Computed once with hashlib.blake2b(APPLICATION, digest_size=16); a stored hash must keep
    # meaning the same content after an upgrade.
    assert content_hash(APPLICATION).hex() == "8041b778647d43dc654c3cb0e7fb467f"


def test_different_content_gives_a_different_hash() -> None:
    changed = b'{"amount":1000,"income":40}'

    assert content_hash(changed) != content_hash(APPLICATION)
    assert len(content_hash(changed)) == 16


def test_no_content_hashes_to_the_unknown_marker() -> None:
    assert content_hash(b"") != UNKNOWN_CONTENT_HASH
    assert content_hash(APPLICATION) != UNKNOWN_CONTENT_HASH
