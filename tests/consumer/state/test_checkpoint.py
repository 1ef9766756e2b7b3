"""The checkpoint file: a round trip, an atomic replace, and what counts as invalid."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from consumer.state import checkpoint
from consumer.state.checkpoint import Checkpoint
from consumer.state.errors import CheckpointInvalidError

WRITTEN_AT = datetime(2026, 12, 5, 10, 30, 15, 250_000, tzinfo=UTC)


def make_checkpoint(next_offset: int = 1_234) -> Checkpoint:
    return Checkpoint(
        format=1,
        changelog_topic="loan-scorer-dedup",
        partition=3,
        next_offset=next_offset,
        bucket_s=86_400,
        window_s=604_800.0,
        written_at=WRITTEN_AT,
        topic_id="Vx9c3mQpT1a8bN0yZk2LwA",
    )


def valid_fields() -> dict[str, Any]:
    return {
        "format": 1,
        "changelog_topic": "loan-scorer-dedup",
        "partition": 3,
        "next_offset": 1_234,
        "bucket_s": 86_400,
        "window_s": 604_800.0,
        "written_at": "2026-12-05T10:30:15.250000+00:00",
        "topic_id": None,
    }


def without_partition() -> dict[str, Any]:
    fields = valid_fields()
    del fields["partition"]
    return fields


def test_a_written_checkpoint_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "3" / "checkpoint.json"

    checkpoint.write_atomic(path, make_checkpoint())

    assert checkpoint.read(path) == make_checkpoint()
    on_disk = json.loads(path.read_bytes())
    assert on_disk["next_offset"] == 1_234
    assert on_disk["written_at"] == "2026-12-05T10:30:15.250000+00:00"


def test_a_missing_checkpoint_reads_as_none(tmp_path: Path) -> None:
    assert checkpoint.read(tmp_path / "checkpoint.json") is None


def test_a_write_replaces_the_old_checkpoint_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    checkpoint.write_atomic(path, make_checkpoint(next_offset=10))

    checkpoint.write_atomic(path, make_checkpoint(next_offset=20))

    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]
    read_back = checkpoint.read(path)
    assert read_back is not None
    assert read_back.next_offset == 20


def test_a_write_that_fails_keeps_the_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint.json"
    checkpoint.write_atomic(path, make_checkpoint(next_offset=10))

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.write_atomic(path, make_checkpoint(next_offset=20))
    monkeypatch.undo()

    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]
    read_back = checkpoint.read(path)
    assert read_back is not None
    assert read_back.next_offset == 10


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps({**valid_fields(), "ids": 123_456}))

    read_back = checkpoint.read(path)

    assert read_back is not None
    assert read_back.next_offset == 1_234
    assert read_back.written_at == WRITTEN_AT


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "Expecting value"),
        (b'{"format": 1, "next_offset": 12', "Expecting"),
        (b'{"format": \xff}', "utf-8"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({**valid_fields(), "format": 2}).encode(), "format 2"),
        (json.dumps({**valid_fields(), "next_offset": "12"}).encode(), "next_offset"),
        (json.dumps({**valid_fields(), "next_offset": -1}).encode(), "next_offset"),
        (json.dumps({**valid_fields(), "partition": True}).encode(), "partition"),
        (json.dumps({**valid_fields(), "bucket_s": 0}).encode(), "bucket_s"),
        (json.dumps({**valid_fields(), "window_s": 0}).encode(), "window_s"),
        (json.dumps({**valid_fields(), "changelog_topic": ""}).encode(), "changelog_topic"),
        (json.dumps({**valid_fields(), "written_at": "yesterday"}).encode(), "isoformat"),
        (json.dumps({**valid_fields(), "written_at": "2026-12-05T10:30:15"}).encode(), "aware"),
        (
            json.dumps({k: v for k, v in valid_fields().items() if k != "partition"}).encode(),
            "partition",
        ),
    ],
    ids=[
        "empty",
        "truncated",
        "not-utf8",
        "array",
        "unknown-format",
        "offset-string",
        "offset-negative",
        "partition-bool",
        "bucket-zero",
        "window-zero",
        "topic-empty",
        "date-garbage",
        "date-naive",
        "field-missing",
    ],
)
def test_an_unreadable_checkpoint_is_invalid(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_bytes(content)

    with pytest.raises(CheckpointInvalidError, match=reason) as raised:
        checkpoint.read(path)
    assert raised.value.path == path


def test_a_checkpoint_with_another_time_zone_keeps_its_instant(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    cet = timezone(timedelta(hours=1))
    written = Checkpoint(**{**make_checkpoint().__dict__, "written_at": WRITTEN_AT.astimezone(cet)})

    checkpoint.write_atomic(path, written)

    read_back = checkpoint.read(path)
    assert read_back is not None
    assert read_back.written_at == WRITTEN_AT
