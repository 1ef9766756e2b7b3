"""The API served by real uvicorn on a real port in a thread, as `loan-scorer run` serves it, for
the tests that must see what a client on the network sees (connections, slow uploads, headers)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

from consumer.api.server import ApiServer

STARTUP_BOUND_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI, *, limit_concurrency: int = 64) -> Iterator[str]:
    """Yields the base URL once uvicorn accepts connections; stops it afterwards."""
    port = free_port()
    server = ApiServer(app, "127.0.0.1", port, limit_concurrency=limit_concurrency)
    server.start()
    try:
        wait_until(lambda: server.started, "uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def wait_until(
    condition: Callable[[], bool], failure: str, bound_s: float = STARTUP_BOUND_S
) -> None:
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.05)


def client(base_url: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=headers, timeout=30.0)
