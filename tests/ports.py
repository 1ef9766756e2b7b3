"""Loopback ports for the brokers and servers the tests start.

Several suites share one machine (engineers in parallel, CI jobs), each with a range of ports of
its own: TEST_PORT_RANGE="LOW-HIGH" makes every port a test picks come from that range, so a broker
a test starts can never take a port another suite was given (not a LOAN_SCORER_ variable: the
scorer refuses unknown ones, and its processes inherit the tests' environment). Unset, the kernel
picks an ephemeral port, as before.
"""

from __future__ import annotations

import os
import random
import socket

PORT_RANGE_VARIABLE = "TEST_PORT_RANGE"

# Ports handed out by this process: a port is free again as soon as its probe socket closes, so
# two calls in a row (a broker's client and controller ports) would otherwise get the same one.
_handed_out: set[int] = set()


def port_range(value: str) -> range:
    """LOW-HIGH (inclusive) as a range; a malformed or empty one is an error, not a fallback."""
    low_text, sep, high_text = value.partition("-")
    if not sep or not low_text.strip().isdigit() or not high_text.strip().isdigit():
        raise ValueError(f"{PORT_RANGE_VARIABLE} must be LOW-HIGH, got {value!r}")
    low, high = int(low_text), int(high_text)
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"{PORT_RANGE_VARIABLE} must satisfy 1024 <= LOW <= HIGH <= 65535")
    return range(low, high + 1)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on now: from TEST_PORT_RANGE when set, else ephemeral."""
    configured = os.environ.get(PORT_RANGE_VARIABLE)
    if not configured:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    ports = list(port_range(configured))
    start = random.randrange(len(ports))  # spreads the tests over the range; not a secret
    for port in ports[start:] + ports[:start]:
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {PORT_RANGE_VARIABLE}={configured}")
