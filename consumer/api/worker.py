"""Where HTTP scoring runs: a small pool of its own, off the event loop, with bounded admission.

The Kafka loop shares this process (and its GIL and cores), so on-demand scoring must stay a
side job: at most `threads` scoring calls run at once and at most `max_in_flight` requests (each
holding a body of up to `MAX_BODY_BYTES`) are admitted; the rest get a 503 to retry, rather than
queueing without bound and starving the stream or the probes.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from consumer.api.problems import ApiError

P = ParamSpec("P")
T = TypeVar("T")

RETRY_AFTER_S = 1


class ScoringWorker:
    def __init__(self, threads: int = 2, max_in_flight: int = 8) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="http-score")
        self._admission = threading.BoundedSemaphore(max_in_flight)

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Raises a 503 `ApiError` at once when full: waiting would only grow the backlog."""
        if not self._admission.acquire(blocking=False):
            raise ApiError(
                503,
                "busy",
                "Too many scoring requests in progress; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            yield
        finally:
            self._admission.release()

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args, **kwargs))
