"""The Grafana dashboard: well-formed, datasource by variable, every query valid PromQL over the
scorer's own metric names, and every panel described in docs/observability.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.delivery import contract
from tests.delivery.tools import REPO, explain, find_tool, run

DASHBOARD = REPO / "observability" / "grafana" / "dashboards" / "loan-scorer.json"
METRIC = re.compile(r"\bloan_scorer_[a-z_]+\b")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _expressions() -> list[str]:
    return [target["expr"] for panel in _panels() for target in panel["targets"]]


def test_datasource_is_a_variable_used_by_every_panel_and_query() -> None:
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["datasource"] == DATASOURCE
    for panel in _panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    panels = _dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel.get("description") or panel["type"] == "row", panel["title"]


def test_the_required_views_are_there() -> None:
    titles = {panel["title"] for panel in _panels()}
    assert {
        "Throughput",
        "End-to-end latency",
        "Processing latency",
        "Consumer lag by partition",
        "Dead letters by reason",
        "Decision mix",
        "Probability of default distribution",
        "Population stability index",
        "Transactions",
        "Readiness by replica",
    } <= titles
    for title in ("End-to-end latency", "Processing latency"):
        latency = next(p for p in _panels() if p["title"] == title)
        assert [t["legendFormat"] for t in latency["targets"]] == ["p50", "p95", "p99"]


def test_queries_use_only_the_scorers_metrics_and_the_job_filter() -> None:
    known = contract.series_names()
    for expr in _expressions():
        used = set(METRIC.findall(expr))
        assert used, expr
        assert used <= known, f"{expr}: {used - known}"
        assert expr.count('job=~"$job"') == len(METRIC.findall(expr)), expr


def test_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule, with Grafana's variables substituted."""
    promtool = find_tool("promtool")
    rules = []
    for index, expr in enumerate(_expressions()):
        concrete = (
            expr.replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$job", ".+")
        )
        rules.append({"record": f"dashboard:query_{index}", "expr": concrete})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run([promtool, "check", "rules", path])
    assert result.returncode == 0, explain(result)


def test_every_metric_the_scorer_exports_is_in_some_panel() -> None:
    """Read from the scorer's own registry, not from a list kept beside the dashboard, so a new
    metric without a panel fails here."""
    from prometheus_client import CollectorRegistry

    from consumer.telemetry.metrics import ScorerMetrics

    registry = CollectorRegistry()
    ScorerMetrics(registry)
    exported = {family.name for family in registry.collect()}
    assert "loan_scorer_duplicates" in exported  # counters are named without _total here
    used = {name for expr in _expressions() for name in METRIC.findall(expr)}
    suffixes = ("_total", "_bucket", "_sum", "_count")
    used_families = {next((n.removesuffix(s) for s in suffixes if n.endswith(s)), n) for n in used}
    assert exported <= used_families, f"no panel shows {sorted(exported - used_families)}"


def test_the_unwritable_dead_letter_reason_has_a_panel_of_its_own() -> None:
    assert any('reason="unwritable"' in expr for expr in _expressions())


def test_every_panel_is_described_in_the_docs() -> None:
    docs = (REPO / "docs" / "observability.md").read_text()
    for panel in _panels():
        assert f"**{panel['title']}**" in docs, f"panel {panel['title']!r} not in the docs"


# Fields Grafana writes into every exported dashboard and reads back, but that its published
# dashboard schema (and so the foundation SDK generated from it) does not declare.
GRAFANA_EXPORT_EXTRAS = {
    "/annotations/list[0]/builtIn",  # the built-in "Annotations & Alerts" entry
    "/templating/list[1]/definition",  # the query variable's query as the editor shows it
    # Panel options of the Grafana the compose file runs (12.3) that the schema version the SDK was
    # generated from does not have yet: the bar gauge's sizing and name placement, the heatmap's
    # tooltip mode.
    "/panels[17]/options/namePlacement",
    "/panels[17]/options/sizing",
    "/panels[19]/options/tooltip/mode",
}


def _lost_fields(original: Any, decoded: Any, path: str = "") -> list[str]:
    """Paths present in `original` that did not survive the schema's decode and encode."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [path]
        lost = [f"{path}/{key}" for key in original if key not in decoded]
        for key in original.keys() & decoded.keys():
            lost += _lost_fields(original[key], decoded[key], f"{path}/{key}")
        return lost
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(original) != len(decoded):
            return [path]
        return [
            lost
            for index, (item, back) in enumerate(zip(original, decoded, strict=True))
            for lost in _lost_fields(item, back, f"{path}[{index}]")
        ]
    return [] if original == decoded else [path]


def test_lost_fields_finds_a_field_the_decoder_dropped_or_changed() -> None:
    assert _lost_fields({"a": 1, "b": [{"c": 2}]}, {"a": 1, "b": [{}]}) == ["/b[0]/c"]
    assert _lost_fields({"a": 1}, {"a": 2}) == ["/a"]
    assert _lost_fields({"a": [1, 2]}, {"a": [1]}) == ["/a"]
    assert _lost_fields({"a": {"b": 1}}, {"a": {"b": 1}}) == []


def test_every_field_is_one_the_grafana_dashboard_schema_knows() -> None:
    """Grafana cannot run here, so its dashboard schema stands in: the dashboard decoded by
    grafana-foundation-sdk (generated from that schema) and encoded again keeps every field and
    value (a misspelt key, such as `gridPoss` or a field config `unitt`, would be dropped), and
    every panel is of a type the schema's panel plugins define."""
    from grafana_foundation_sdk.cog import runtime
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()
    original = _dashboard()
    decoded = json.loads(JSONEncoder().encode(Dashboard.from_json(original)))
    assert set(_lost_fields(original, decoded)) == GRAFANA_EXPORT_EXTRAS
    assert len(decoded["panels"]) == len(original["panels"])
    known_types = set(runtime.Runtime().panelcfg_variants) | {"row"}
    assert {panel["type"] for panel in original["panels"]} <= known_types


def test_provisioning_files_point_at_the_dashboard_and_the_compose_prometheus() -> None:
    provisioning = REPO / "observability" / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "loan-scorer.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasources["apiVersion"] == 1
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["access"] == "proxy"
