"""Alert rules and Prometheus config: promtool checks, unit tests for every alert, metric names."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.delivery import contract
from tests.delivery.tools import REPO, explain, find_tool, run

PROMETHEUS = REPO / "observability" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
METRIC = re.compile(r"\bloan_scorer_[a-z_]+\b")


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def test_promtool_check_rules() -> None:
    promtool = find_tool("promtool")
    result = run([promtool, "check", "rules", ALERTS])
    assert result.returncode == 0, explain(result)


def test_promtool_test_rules() -> None:
    promtool = find_tool("promtool")
    result = run([promtool, "test", "rules", ALERT_TESTS.name], cwd=PROMETHEUS)
    assert result.returncode == 0, explain(result)
    assert "SUCCESS" in result.stdout, explain(result)


def test_promtool_check_config() -> None:
    promtool = find_tool("promtool")
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS)
    assert result.returncode == 0, explain(result)


def test_every_alert_is_tested_both_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names == firing, f"alerts never seen firing in a test: {names - firing}"
    assert names == silent, f"alerts never checked silent in a test: {names - silent}"


def test_alerts_required_by_the_runbook_exist() -> None:
    names = {rule["alert"] for rule in _alerts()}
    assert {
        "LoanScorerConsumerLagGrowing",
        "LoanScorerDeadLetterRatioHigh",
        "LoanScorerNothingScored",
        "LoanScorerProcessingLatencyHigh",
        "LoanScorerUpstreamLagHigh",
        "LoanScorerDriftHigh",
        "LoanScorerNotReady",
        "LoanScorerTargetDown",
        "LoanScorerAbsent",
    } <= names
    drift = next(rule for rule in _alerts() if rule["alert"] == "LoanScorerDriftHigh")
    assert "> 0.25" in drift["expr"]


def test_latency_pages_on_what_the_scorer_controls_and_upstream_lag_is_slower() -> None:
    """Replaying old events (or an upstream clock that is off) must not page for latency: the
    latency alert reads the processing histogram (from the Kafka timestamp), never occurred_at;
    upstream lag has its own alert, which waits longer."""
    alerts = {rule["alert"]: rule for rule in _alerts()}
    assert "LoanScorerEndToEndLatencyHigh" not in alerts
    processing = alerts["LoanScorerProcessingLatencyHigh"]
    assert "loan_scorer_processing_latency_seconds_bucket" in processing["expr"]
    assert "end_to_end" not in processing["expr"]
    upstream = alerts["LoanScorerUpstreamLagHigh"]
    assert "loan_scorer_end_to_end_latency_seconds_bucket" in upstream["expr"]
    minutes = {name: int(rule["for"].removesuffix("m")) for name, rule in alerts.items()}
    assert minutes["LoanScorerUpstreamLagHigh"] > minutes["LoanScorerProcessingLatencyHigh"]


def test_every_alert_has_severity_summary_description_and_a_for_clause() -> None:
    for rule in _alerts():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert re.fullmatch(r"\d+m", rule["for"]), rule["alert"]


def test_rules_use_only_the_scorers_metric_names() -> None:
    known = contract.series_names()
    for rule in _rules():
        used = set(METRIC.findall(rule["expr"]))
        # `up` is the one series Prometheus makes itself: the only sign of a replica it cannot
        # scrape. It must be narrowed to the scorer's scrape jobs.
        assert used or rule["expr"].startswith('up{job=~".*loan-scorer.*"}'), rule
        assert used <= known, f"{rule.get('alert') or rule.get('record')}: {used - known}"


def test_rules_are_documented() -> None:
    docs = (REPO / "docs" / "observability.md").read_text()
    for rule in _alerts():
        assert rule["alert"] in docs, f"{rule['alert']} is not described in docs/observability.md"


RUNBOOK = REPO / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/loan-scorer/loan-scorer/blob/main/docs/runbook.md#"


def _runbook_sections() -> dict[str, str]:
    """Each `## ` section of the runbook by its GitHub anchor (lower case, spaces to dashes)."""
    sections: dict[str, str] = {}
    anchor = None
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("## "):
            anchor = re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
            sections[anchor] = ""
        elif anchor is not None:
            sections[anchor] += line + "\n"
    return sections


def test_every_alert_links_its_runbook_section_which_says_what_to_do() -> None:
    sections = _runbook_sections()
    for rule in _alerts():
        url = rule["annotations"].get("runbook_url", "")
        assert url.startswith(RUNBOOK_URL), f"{rule['alert']}: runbook_url {url!r}"
        anchor = url.removeprefix(RUNBOOK_URL)
        assert anchor in sections, f"{rule['alert']}: no section #{anchor} in docs/runbook.md"
        for part in ("**Symptom.**", "**Likely causes", "**Commands.**", "**When to escalate.**"):
            assert part in sections[anchor], f"{rule['alert']}: its runbook has no {part}"
        assert "```sh" in sections[anchor], f"{rule['alert']}: its runbook has no command to run"


def test_a_whole_outage_and_a_dead_target_are_alerted_on() -> None:
    """Crash-looping pods take every scorer series with them; only `up` and `absent` still see."""
    exprs = {rule["alert"]: rule["expr"] for rule in _alerts()}
    assert exprs["LoanScorerTargetDown"].startswith("up{")
    assert "== 0" in exprs["LoanScorerTargetDown"]
    assert exprs["LoanScorerAbsent"].startswith("absent(")
