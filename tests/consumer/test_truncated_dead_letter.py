"""The dead letter of last resort: small enough to be written, and enough in its headers to find
and check the original upstream."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from consumer.delivery.truncated_dead_letter import (
    TRUNCATED_KEY_BYTES,
    TRUNCATED_VALUE_BYTES,
    truncated_dead_letter,
)
from schemas.dead_letter import (
    HEADER_OFFSET,
    HEADER_ORIGINAL_SHA256,
    HEADER_ORIGINAL_SIZE,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TOPIC,
)
from tests.consumer.test_pipeline import FakeMessage


def _letter(message: FakeMessage) -> tuple[bytes | None, bytes | None, dict[str, object]]:
    record = truncated_dead_letter(
        message,
        dlq_topic="dlq",
        refused_topic="loan-scores",
        refusal="MSG_SIZE_TOO_LARGE",
        failed_at=datetime(2026, 12, 6, tzinfo=UTC),
    )
    assert record.topic == "dlq"
    assert record.timestamp_ms is None  # the producer's time: the original's may be refused
    return record.key, record.value, dict(record.headers or [])


def test_value_and_key_are_cut_and_the_original_is_named_by_size_hash_and_position() -> None:
    value = bytes(range(256)) * 40  # 10,240 bytes
    message = FakeMessage(value, k=b"k" * 1000, off=77, hdrs=[("big", b"x" * 100_000)])

    key, cut, headers = _letter(message)

    assert cut == value[:1024]
    assert TRUNCATED_VALUE_BYTES == 1024
    assert key == b"k" * 256
    assert TRUNCATED_KEY_BYTES == 256
    assert headers[HEADER_ORIGINAL_SIZE] == b"10240"
    assert headers[HEADER_ORIGINAL_SHA256] == hashlib.sha256(value).hexdigest().encode()
    assert headers[HEADER_TOPIC] == b"loan-applications"
    assert (headers[HEADER_PARTITION], headers[HEADER_OFFSET]) == (b"2", b"77")
    assert headers[HEADER_REASON] == b"unwritable"
    assert "big" not in headers  # the original headers may be what made it too large


def test_a_small_record_is_kept_whole_and_a_missing_key_stays_missing() -> None:
    key, value, headers = _letter(FakeMessage(b'{"a": 1}', k=None))
    assert (key, value) == (None, b'{"a": 1}')
    assert headers[HEADER_ORIGINAL_SIZE] == b"8"
