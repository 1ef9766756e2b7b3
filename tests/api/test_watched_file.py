"""Credential files re-read on change (in place or by a Secret's symlink swap), on a test clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consumer.api.watched_file import WatchedFile


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def strict_int(content: bytes) -> int:
    return int(content)  # ValueError on anything else


def test_a_change_is_seen_at_the_next_check_not_before(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_text("1")
    clock = Clock()
    watched = WatchedFile(path, strict_int, check_interval_s=1.0, clock=clock)

    path.write_text("22")
    assert watched.current() == 1  # within the interval: no stat, no re-read
    clock.now += 1.0
    assert watched.current() == 22


def test_a_same_size_rewrite_is_seen_by_its_mtime(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_text("1")
    clock = Clock()
    watched = WatchedFile(path, strict_int, check_interval_s=1.0, clock=clock)

    path.write_text("2")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    clock.now += 1.0
    assert watched.current() == 2


def test_a_symlink_swap_is_seen(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "value").write_text("1")
    (tmp_path / "..data").symlink_to("v1")
    (tmp_path / "value").symlink_to("..data/value")
    clock = Clock()
    watched = WatchedFile(tmp_path / "value", strict_int, clock=clock)

    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "value").write_text("2")
    (tmp_path / "..tmp").symlink_to("v2")
    (tmp_path / "..tmp").replace(tmp_path / "..data")
    clock.now += 1.0
    assert watched.current() == 2


def test_a_broken_or_missing_file_refuses_until_a_valid_one_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "value"
    path.write_text("1")
    clock = Clock()
    watched = WatchedFile(path, strict_int, clock=clock)

    path.write_text("not a number")
    clock.now += 1.0
    assert watched.current() is None  # revoked: the previous content is not kept
    clock.now += 1.0
    assert watched.current() is None  # and stays so while the file does not change
    path.write_text("3")
    clock.now += 1.0
    assert watched.current() == 3
    path.unlink()
    clock.now += 1.0
    assert watched.current() is None
    clock.now += 1.0
    assert watched.current() is None
    path.write_text("4")
    clock.now += 1.0
    assert watched.current() == 4
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    # Once per bad state (a parse error, then a missing file), not once per check.
    assert [getattr(r, "error_type", None) for r in refusals] == [
        "ValueError",
        "FileNotFoundError",
    ]
    assert all(getattr(r, "path", None) == str(path) for r in refusals)


def test_a_file_restored_as_it_was_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_text("1")
    clock = Clock()
    watched = WatchedFile(path, strict_int, clock=clock)
    saved = path.read_bytes()
    stat = path.stat()

    path.unlink()
    clock.now += 1.0
    assert watched.current() is None
    path.write_bytes(saved)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    clock.now += 1.0
    assert watched.current() == 1


def test_a_bad_file_at_start_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "value").write_text("x")
    with pytest.raises(ValueError, match="invalid literal"):
        WatchedFile(tmp_path / "value", strict_int)
    with pytest.raises(FileNotFoundError):
        WatchedFile(tmp_path / "missing", strict_int)
