"""Serving the API from a background thread, so the Kafka loop keeps the main thread (and the
signals that arrive there).

`limit_concurrency` is uvicorn's own cap on connections and tasks at once: above it uvicorn
answers 503 before any of our code runs, so a flood of connections costs a bounded amount of
memory whatever the routes do.
"""

from __future__ import annotations

import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI

DEFAULT_LIMIT_CONCURRENCY = 64


class ApiServer:
    def __init__(
        self,
        app: FastAPI,
        host: str,
        port: int,
        *,
        limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY,
        name: str = "http",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls` is (certificate, key), PEM files: the port then speaks HTTPS only."""
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            limit_concurrency=limit_concurrency,
            server_header=False,
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    @property
    def started(self) -> bool:
        return self._server.started

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)
