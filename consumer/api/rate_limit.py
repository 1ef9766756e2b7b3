"""A token bucket per client: each client may send `rate_per_s` requests a second on average and
`burst` at once, whatever the others do, so one noisy (or probing) client cannot starve the rest
or sample the policy at will.

Buckets live in this process: with N replicas behind a Service a client gets at most N times the
rate, which the chart's replica count bounds. The number of buckets is bounded by the number of
distinct authenticated clients (a key file's names or an issuer's client ids), never by
anything an unauthenticated caller sends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be positive and burst at least 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def try_take(self, client: str) -> float | None:
        """Take one token: None if granted, else the seconds until one is available."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self._rate


def retry_after_header(wait_s: float) -> str:
    """Whole seconds, rounded up and at least 1 (RFC 9110 delay-seconds)."""
    return str(max(1, math.ceil(wait_s)))
