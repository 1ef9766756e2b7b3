"""The helpers every room shares: keys and values as bytes (and the one dead letter built from
them outside the pipeline), and the UTC clock records are stamped with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from consumer.delivery.truncated_dead_letter import (
    TRUNCATED_KEY_BYTES,
    TRUNCATED_VALUE_BYTES,
    truncated_dead_letter,
)
from consumer.records import BatchOutcome, ScoredFact, as_bytes, utc_now
from schemas.dead_letter import HEADER_ORIGINAL_SIZE


def test_a_str_is_encoded_as_utf8() -> None:
    assert as_bytes("prêt-7") == b"pr\xc3\xaat-7"


def test_bytes_and_none_are_handed_back_untouched() -> None:
    raw = b"\xff\x00not utf-8"
    assert as_bytes(raw) is raw
    assert as_bytes(None) is None
    assert as_bytes("") == b""


def test_utc_now_is_an_aware_utc_time_of_now() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    assert now.tzinfo is UTC  # aware, and UTC: not the machine's local zone
    assert before <= now <= datetime.now(UTC)


@dataclass
class StrMessage:
    """A consumed record whose client handed key and value over as str."""

    key_text: str
    value_text: str

    def key(self) -> str:
        return self.key_text

    def value(self) -> str:
        return self.value_text

    def topic(self) -> str:
        return "apps"

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return 41

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)

    def headers(self) -> None:
        return None


def test_a_truncated_dead_letter_cuts_the_encoded_bytes_not_the_characters() -> None:
    message = StrMessage(key_text="k" * 300, value_text="é" * 1000)  # 2,000 bytes in UTF-8
    record = truncated_dead_letter(
        message,
        dlq_topic="apps.dlq",
        refused_topic="scores",
        refusal="MSG_SIZE_TOO_LARGE",
        failed_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert record.value == ("é" * 1000).encode()[:TRUNCATED_VALUE_BYTES]
    assert record.key == b"k" * TRUNCATED_KEY_BYTES
    assert dict(record.headers or [])[HEADER_ORIGINAL_SIZE] == b"2000"


def test_scores_replaced_by_truncated_dead_letters_are_no_decisions() -> None:
    """Issue 22, 6b: a score never published is not counted as a decision, but as a dead letter."""
    facts = [
        ScoredFact("approve", "m1", 0.1, 0.0, event_id="ev-a"),
        ScoredFact("decline", "m1", 0.9, 0.0, event_id="ev-b"),
    ]
    outcome = BatchOutcome(records=[], scored=facts, dead_letter_reasons=["schema"])

    published = outcome.without_scores({"ev-b"})

    assert [fact.event_id for fact in published.scored] == ["ev-a"]
    assert published.dead_letter_reasons == ["schema", "unwritable"]
    assert outcome.without_scores(set()) is outcome
