"""The RocksDB options every store shares."""

from __future__ import annotations

import pytest

from consumer.state.options import MIB, build_options, shared_options


def test_the_process_builds_its_options_once() -> None:
    assert shared_options() is shared_options()
    assert shared_options().cache_bytes == 64 * MIB


def test_the_write_buffers_are_charged_to_a_32_mib_budget() -> None:
    options = build_options(48 * MIB)

    assert options.write_buffer_manager.enabled()
    assert options.write_buffer_manager.get_buffer_size() == 32 * MIB
    assert options.cache_bytes == 48 * MIB


def test_a_cache_smaller_than_the_write_buffer_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="32 MiB"):
        build_options(16 * MIB)
