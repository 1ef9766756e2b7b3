"""The port range the tests' brokers and servers are confined to (LOAN_SCORER_TEST_PORTS)."""

from __future__ import annotations

import socket

import pytest

from tests.ports import PORT_RANGE_VARIABLE, free_port, port_range


def test_a_range_is_inclusive_of_both_ends() -> None:
    assert port_range("49092-49094") == range(49092, 49095)


@pytest.mark.parametrize("value", ["49092", "49092-", "a-b", "49392-49092", "80-90", "1-70000"])
def test_a_malformed_range_is_refused_not_ignored(value: str) -> None:
    with pytest.raises(ValueError, match=PORT_RANGE_VARIABLE):
        port_range(value)


def test_ports_come_from_the_range_never_twice_and_skip_a_busy_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = int(busy.getsockname()[1])
        low = taken - 1 if taken > 1024 else taken
        monkeypatch.setenv(PORT_RANGE_VARIABLE, f"{low}-{low + 2}")
        picked = {free_port() for _ in range(2)}
    assert taken not in picked
    assert picked <= set(range(low, low + 3))
    assert len(picked) == 2
