"""The content hash stored beside each scored event id.

Same `event_id`, same content: an upstream retry, a duplicate. Same `event_id`, different content:
a conflicting duplicate that goes to the dead-letter topic. To tell them apart the store keeps a
16-byte hash of what was scored.

The caller hashes the **canonical JSON of the decoded application without its `event_id`** (sorted
keys, no insignificant whitespace), not the raw Kafka value:
two re-sends that differ only in key order or spacing are the same application, and the id is the
key under which the hash is stored, so it adds nothing. This function only hashes the bytes it is
given; choosing and canonicalising them is the caller's job.
"""

from __future__ import annotations

import hashlib
from typing import Final

CONTENT_HASH_BYTES: Final = 16

# The hash of an id whose content is not known: ids restored from changelog records written before
# hashes were stored (record versions 0 and 1). Such an id counts as a duplicate, as it did before.
UNKNOWN_CONTENT_HASH: Final = bytes(CONTENT_HASH_BYTES)


def content_hash(application_json: bytes) -> bytes:
    """BLAKE2b-128 of the bytes: 16 bytes, stable across processes and Python versions.

    BLAKE2b rather than SHA-256 cut to 16 bytes: it is faster in CPython and takes the digest size
    as a parameter. 128 bits make an accidental collision between two applications sharing an
    `event_id` negligible; this is not a defence against someone who controls the content.
    """
    return hashlib.blake2b(application_json, digest_size=CONTENT_HASH_BYTES).digest()
