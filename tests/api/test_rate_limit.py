"""The per-client token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from consumer.api.rate_limit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_waits_for_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)

    assert [limiter.try_take("crm") for _ in range(3)] == [None, None, None]
    assert limiter.try_take("crm") == pytest.approx(0.5)
    clock.now += 0.25
    assert limiter.try_take("crm") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.try_take("crm") is None


def test_clients_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(1.0, 1, clock=Clock())

    assert limiter.try_take("crm") is None
    assert limiter.try_take("crm") is not None
    assert limiter.try_take("branch") is None


def test_a_bucket_never_fills_beyond_its_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 2, clock=clock)
    clock.now += 3600

    assert [limiter.try_take("crm") is None for _ in range(3)] == [True, True, False]


def test_the_limiter_refuses_a_rate_that_would_never_refill() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0.0, 1)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1.0, 0)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (99.9, "100")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header
