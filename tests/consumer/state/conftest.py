"""Fixtures of the state tests: a moving clock, stores in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.consumer.state.stores import Clock, Stores


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores(tmp_path: Path, clock: Clock) -> Iterator[Stores]:
    made = Stores(tmp_path / "loan-scorer-dedup" / "0" / "rocksdb", clock)
    yield made
    made.close_all()
