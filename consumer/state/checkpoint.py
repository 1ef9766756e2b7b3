"""The checkpoint file beside a partition's store: which changelog offset the store reflects.

The store keeps the same offset in its `meta` column family, written atomically with the data; the
file is the second witness, written only after the WAL was synced (`PartitionStore.flush_wal`). On
assignment the owner restores from the lower of the two, and treats a missing or invalid file, or
one naming another topic, partition or bucket size, as "no local state": destroy, cold restore.
(Kafka Streams keeps only such a file; Quix Streams keeps only the `meta` offset. Both together
catch the one case each misses alone: a store that opens cleanly but lost its tail, as a half
MANIFEST or a damaged WAL does, which RocksDB reports as no error.)

The file is small JSON, written the way Kafka Streams writes `.checkpoint`: to `<name>.tmp`,
fsync'd, renamed over the old one with `os.replace`, then the directory fsync'd. A crash leaves
either the old file or the new one, never half of one (measured: 0.47 ms p50, 1.57 ms p99).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from consumer.state.errors import CheckpointInvalidError

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT: Final = 1
_TMP_SUFFIX: Final = ".tmp"


@dataclass(frozen=True)
class Checkpoint:
    """What a store reflects: the changelog partition, the next offset to apply, the bucket size
    its column families were cut with and the window it was kept for."""

    format: int
    changelog_topic: str
    partition: int
    next_offset: int
    bucket_s: int
    window_s: float
    written_at: datetime  # timezone-aware
    topic_id: str | None = None  # the changelog topic's id, when known: a recreated topic differs

    def __post_init__(self) -> None:
        # Checked at run time too: from_json passes whatever the file held.
        _require_int(self.format, "format", minimum=1)
        _require_text(self.changelog_topic, "changelog_topic")
        _require_int(self.partition, "partition", minimum=0)
        _require_int(self.next_offset, "next_offset", minimum=0)
        _require_int(self.bucket_s, "bucket_s", minimum=1)
        _require_positive_number(self.window_s, "window_s")
        _require_aware_datetime(self.written_at, "written_at")
        if self.topic_id is not None:
            _require_text(self.topic_id, "topic_id")

    def to_json(self) -> bytes:
        values = asdict(self)
        values["written_at"] = self.written_at.isoformat()
        return json.dumps(values, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint:
        """Raises ValueError (or TypeError) when `raw` is not a checkpoint of a known format."""
        parsed: Any = json.loads(raw)
        if not isinstance(parsed, dict):
            raise ValueError("not a JSON object")
        if parsed.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"format {parsed.get('format')!r}, this version reads {CHECKPOINT_FORMAT}"
            )
        written_at = parsed.get("written_at")
        if not isinstance(written_at, str):
            raise ValueError("written_at must be an ISO 8601 string")
        # Keys this version does not know are ignored (informational fields a later one may add);
        # a missing one is a TypeError from the constructor.
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in parsed.items() if k in known}
        return cls(**{**values, "written_at": datetime.fromisoformat(written_at)})


def read(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`; None when there is none; CheckpointInvalidError when the file
    exists but is not a checkpoint this version can read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Checkpoint.from_json(raw)
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckpointInvalidError(path, str(exc)) from exc


def write_atomic(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint at `path`: a crash at any point leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + _TMP_SUFFIX)
    data = checkpoint.to_json()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable: the directory entry is data of the directory."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _require_int(value: object, name: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _require_positive_number(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _require_aware_datetime(value: object, name: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
