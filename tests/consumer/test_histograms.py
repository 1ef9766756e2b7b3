"""`observe_all` must leave a histogram exactly as `observe` would, value by value."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram

from consumer.telemetry.histograms import observe_all

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name != "h_created"  # when each was made, not what it holds
    }


def _pair() -> tuple[CollectorRegistry, Histogram, CollectorRegistry, Histogram]:
    one, many = CollectorRegistry(), CollectorRegistry()
    return (
        one,
        Histogram("h", "h", buckets=BUCKETS, registry=one),
        many,
        Histogram("h", "h", buckets=BUCKETS, registry=many),
    )


def test_a_batch_lands_in_the_buckets_observe_would_choose() -> None:
    rng = random.Random(3)
    # Bounds themselves (a value equal to a bound belongs to that bucket), values between and
    # beyond them, zero and a negative.
    values = [*BUCKETS, 0.0, -0.5, 7.0, 1e9] + [rng.uniform(0, 1.2) for _ in range(500)]
    one_registry, one, many_registry, many = _pair()
    for value in values:
        one.observe(value)

    observe_all(many, values)

    ones, manys = _samples(one_registry), _samples(many_registry)
    # The sum is added in another order: equal to the last bits of a float.
    assert manys.pop(("h_sum", "")) == pytest.approx(ones.pop(("h_sum", "")), rel=1e-12)
    assert manys == ones
    assert (
        _samples(many_registry)[("h_bucket", "0.005")]
        == 1 + sum(0 < v <= 0.005 for v in values[len(BUCKETS) + 4 :]) + 2
    )  # 0.005 itself, 0.0 and -0.5


def test_nan_lands_in_no_bucket_as_with_observe() -> None:
    one_registry, one, many_registry, many = _pair()
    one.observe(0.2)
    one.observe(math.nan)

    observe_all(many, [0.2, math.nan])

    ones, manys = _samples(one_registry), _samples(many_registry)
    assert {k: v for k, v in manys.items() if k[0] != "h_sum"} == {
        k: v for k, v in ones.items() if k[0] != "h_sum"
    }
    assert manys[("h_count", "")] == 1
    assert math.isnan(manys[("h_sum", "")])
    assert math.isnan(ones[("h_sum", "")])


def test_an_empty_batch_changes_nothing() -> None:
    _, _, registry, histogram = _pair()
    before = _samples(registry)

    observe_all(histogram, [])

    assert _samples(registry) == before
