"""The metric names the dashboard and alerts use are the ones the scorer really exports."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from consumer.outcomes.metrics import RealisedMetrics
from consumer.telemetry.metrics import ScorerMetrics
from tests.delivery import contract


def _exported() -> dict[str, str]:
    """Exposed family name -> type, from a fresh registry holding the scorer's metrics."""
    registry = CollectorRegistry()
    ScorerMetrics(registry)
    exported: dict[str, str] = {}
    for family in registry.collect():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        exported[name] = family.type
    return exported


def test_every_contract_metric_is_exported_with_its_type() -> None:
    exported = _exported()
    for name, (kind, _labels) in contract.METRICS.items():
        assert exported.get(name) == kind, (
            f"{name}: contract says {kind}, scorer {exported.get(name)}"
        )


def test_the_scorer_exports_no_metric_the_contract_lacks() -> None:
    extra = set(_exported()) - set(contract.METRICS)
    assert not extra, f"add these to tests/delivery/contract.py (and the dashboard): {extra}"


def test_the_outcomes_joiner_exports_exactly_its_contract() -> None:
    registry = CollectorRegistry()
    RealisedMetrics(registry)
    exported = {
        (f"{family.name}_total" if family.type == "counter" else family.name): family.type
        for family in registry.collect()
    }
    assert exported == {name: kind for name, (kind, _) in contract.OUTCOMES_METRICS.items()}
