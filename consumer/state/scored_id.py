"""What the store keeps of a scored id, as 32 bytes, and which time bucket it falls in.

- key: the `event_id`, UTF-8;
- value: `scored_at_ms` u64 big-endian | content hash, 16 bytes | input offset i64 big-endian. A
  hash of 16 zero bytes means "unknown" (ids restored from changelog records that carry no
  hash); an input offset of -1 means unknown too;
- the column family: `ids-<floor(scored_at_ms / bucket_ms)>`, so expiry drops a whole column
  family instead of sweeping keys (store.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from consumer.state.hashing import CONTENT_HASH_BYTES, UNKNOWN_CONTENT_HASH

BUCKET_CF_PREFIX: Final = "ids-"
# Fewer buckets per window would keep more expired ids on disk (up to a bucket's worth); more would
# cost a multi-get each per lookup. Seven per window: at most eight live, one day each for the
# 7-day default.
BUCKETS_PER_WINDOW: Final = 7
UNKNOWN_INPUT_OFFSET: Final = -1

_VALUE: Final = struct.Struct(f">Q{CONTENT_HASH_BYTES}sq")


@dataclass(frozen=True, slots=True)
class ScoredId:
    """What the store knows of a scored event id."""

    scored_at_s: float  # epoch seconds; stored to the millisecond
    content_hash: bytes  # 16 bytes; UNKNOWN_CONTENT_HASH when not known
    input_offset: int  # the input record's offset; UNKNOWN_INPUT_OFFSET when not known

    def __post_init__(self) -> None:
        if len(self.content_hash) != CONTENT_HASH_BYTES:
            raise ValueError(
                f"a content hash has {CONTENT_HASH_BYTES} bytes, got {len(self.content_hash)}"
            )
        if self.scored_at_s < 0:
            raise ValueError(f"scored_at_s must not be negative, got {self.scored_at_s}")

    @property
    def content_known(self) -> bool:
        return self.content_hash != UNKNOWN_CONTENT_HASH


def encode_value(scored: ScoredId) -> bytes:
    """The 32-byte value stored under an event id."""
    return _VALUE.pack(to_ms(scored.scored_at_s), scored.content_hash, scored.input_offset)


def decode_value(value: bytes) -> ScoredId:
    scored_at_ms, digest, input_offset = _VALUE.unpack(value)
    return ScoredId(scored_at_s=scored_at_ms / 1000, content_hash=digest, input_offset=input_offset)


def bucket_seconds(window_s: float) -> int:
    """The bucket size for a window: a seventh of it, in whole seconds, at least one."""
    return max(1, int(window_s // BUCKETS_PER_WINDOW))


def to_ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)


def bucket_cf(bucket: int) -> str:
    return f"{BUCKET_CF_PREFIX}{bucket}"


def bucket_of_cf(name: str) -> int | None:
    if not name.startswith(BUCKET_CF_PREFIX):
        return None
    try:
        return int(name.removeprefix(BUCKET_CF_PREFIX))
    except ValueError:
        return None
