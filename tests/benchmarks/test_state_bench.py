"""`make bench-state`'s own arithmetic and report (benchmarks/state_report.py). No broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.state_report import (
    JSON_KEYS,
    EventTemplate,
    ReadyPoll,
    Restart,
    Sample,
    bytes_under,
    cold_restore_target_s,
    edge_ids,
    eps_ratio,
    first_at_least,
    json_line,
    metric_sum,
    ready_after_restore,
    ready_before_restore,
    reference_bench,
    rss_mb_per_million,
    summarize,
    tables,
    target_rows,
    window_eps,
)
from schemas.decode import decode_application
from schemas.examples import example_application

RUN_HEX = "0123456789abcdef0123456789abcdef"


def test_template_events_are_valid_distinct_and_differ_only_in_their_ids() -> None:
    template = EventTemplate(RUN_HEX)
    events = [decode_application(template.value(i)) for i in (0, 1, 9_999_999, 10_002_999)]
    assert len({e.event_id for e in events}) == 4
    assert len({e.application_id for e in events}) == 4
    assert str(events[2].event_id) == "01234567-89ab-4def-8123-00000098967f"  # 9,999,999 in hex
    assert events[2].application_id == "sb-456789ab-9999999"
    expected = example_application()
    for event in events:
        body = event.model_dump(mode="json")
        assert {k: v for k, v in body.items() if k not in ("event_id", "application_id")} == {
            k: v for k, v in expected.items() if k not in ("event_id", "application_id")
        }


def test_template_key_is_the_application_id() -> None:
    template = EventTemplate(RUN_HEX)
    assert orjson.loads(template.value(42))["application_id"].encode() == template.key(42)


def test_template_rejects_a_run_id_that_is_not_hex() -> None:
    with pytest.raises(ValueError, match="hex"):
        EventTemplate("not hex")


def test_two_runs_get_different_ids() -> None:
    assert EventTemplate().value(0) != EventTemplate().value(0)


def test_edge_is_200k_or_half_a_small_run() -> None:
    assert edge_ids(10_000_000) == 200_000
    assert edge_ids(300_000) == 150_000
    with pytest.raises(ValueError, match="at least 2"):
        edge_ids(1)


def test_cold_restore_target_scales_with_the_ids() -> None:
    assert cold_restore_target_s(10_000_000) == 120.0
    assert cold_restore_target_s(300_000) == pytest.approx(3.6)


SAMPLES = [
    Sample(at=0.0, committed=0, rss_mb=200.0),
    Sample(at=1.0, committed=2_000, rss_mb=210.0),  # first commit: the rate starts here
    Sample(at=11.0, committed=202_000, rss_mb=220.0),
    Sample(at=50.0, committed=800_000, rss_mb=230.0),
    Sample(at=60.0, committed=1_000_000, rss_mb=240.0),
]


def test_window_rate_starts_at_the_first_commit_and_ends_at_the_first_sample_past_the_end() -> None:
    assert window_eps(SAMPLES, 0, 200_000) == pytest.approx(200_000 / 10)
    assert window_eps(SAMPLES, 800_000, 1_000_000) == pytest.approx(200_000 / 10)
    assert window_eps(SAMPLES, 0, 2_000_000) is None
    assert window_eps(SAMPLES[:1], 0, 0) is None


def test_first_at_least() -> None:
    assert first_at_least(SAMPLES, 200_000) == SAMPLES[2]
    assert first_at_least(SAMPLES, 1_000_001) is None


def test_rss_growth_per_million_ids_held() -> None:
    assert rss_mb_per_million(220.0, 240.0, 1_000_000, 200_000) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="exceed"):
        rss_mb_per_million(1.0, 2.0, 100, 100)


def test_ready_after_restore_is_the_first_200_after_the_last_restoring_answer() -> None:
    polls = [
        ReadyPoll(0.5, 200, restoring=False),  # before the assignment: ready, restore unknown
        ReadyPoll(0.6, 503, restoring=True),
        ReadyPoll(0.7, 200, restoring=False),  # between two partitions' restores
        ReadyPoll(0.8, 503, restoring=True),
        ReadyPoll(0.9, 503, restoring=False),
        ReadyPoll(1.0, 200, restoring=False),
    ]
    assert ready_after_restore(polls) == 1.0
    assert ready_before_restore(polls)
    assert ready_after_restore(polls[:5]) is None
    unseen = [ReadyPoll(0.3, 503, restoring=False), ReadyPoll(0.4, 200, restoring=False)]
    assert ready_after_restore(unseen) == 0.4
    assert not ready_before_restore(unseen)
    assert ready_after_restore([]) is None


def test_metric_sum_adds_every_series_of_the_name_only() -> None:
    exposition = "\n".join(
        [
            "# HELP loan_scorer_state_restore_records_total Changelog records read.",
            "# TYPE loan_scorer_state_restore_records_total counter",
            "loan_scorer_state_restore_records_total 1234.0",
            "loan_scorer_state_restore_records_created 1.7e9",
            'loan_scorer_events_scored_total{decision="approve",model_version="v1"} 10.0',
            'loan_scorer_events_scored_total{decision="decline",model_version="v1"} 5.0',
        ]
    )
    assert metric_sum(exposition, "loan_scorer_state_restore_records_total") == 1234.0
    assert metric_sum(exposition, "loan_scorer_events_scored_total") == 15.0
    assert metric_sum(exposition, "loan_scorer_state_ids") == 0.0


def test_bytes_under_sums_every_file(tmp_path: Path) -> None:
    (tmp_path / "0" / "rocksdb").mkdir(parents=True)
    (tmp_path / "0" / "rocksdb" / "000001.log").write_bytes(b"x" * 100)
    (tmp_path / "0" / "checkpoint.json").write_bytes(b"y" * 20)
    assert bytes_under(tmp_path) == 120
    assert bytes_under(tmp_path / "missing") == 0


def test_reference_is_the_last_make_bench_line_not_a_state_bench_line() -> None:
    results = "\n".join(
        [
            "```json",
            '{"scorer_eps":100,"commit":"a"}',
            "```",
            "```json",
            '{"scorer_eps":200,"commit":"b"}',
            "```",
            "```json",
            '{"ids":300000,"scorer_eps_at_0":1}',
            "```",
        ]
    )
    assert reference_bench(results) == {"scorer_eps": 200, "commit": "b"}
    assert reference_bench("no runs yet") is None


def _summary(**overrides: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "ids": 10_000_000,
        "scorer_eps_at_0": 18_000.0,
        "scorer_eps_at_n": 17_000.0,
        "rss_mb_start": 230.0,
        "rss_mb_at_200k": 260.0,
        "rss_mb_at_n": 300.0,
        "rss_mb_per_million": 4.1,
        "state_bytes_on_disk": 700_000_000,
        "restart_first_score_s": 6.5,
        "kill9_first_score_s": 14.0,
        "cold_restore_s": 90.0,
        "cold_first_score_s": 95.0,
        "restored_records_cold": 10_003_000.0,
        "commit": "abc1234",
        "date": "2026-12-01T00:00:00+00:00",
        "machine": "test",
        "edge_ids": 200_000,
        "reference_scorer_eps": 20_000,
        "reference_commit": "c99ce3a",
        "reference_date": "2026-11-28",
        "baseline_commit": "98d5c4f",
        "baseline_eps_at_0": 19_000.0,
        "baseline_eps_at_n": 18_500.0,
        "eps_ratio_at_0": 0.947,
        "eps_ratio_at_n": 0.919,
        "baseline_rss_mb_per_million": 271.0,
    }
    return summary | overrides


def test_json_line_puts_the_agreed_keys_first() -> None:
    line = orjson.loads(json_line(_summary()))
    assert list(line)[: len(JSON_KEYS)] == list(JSON_KEYS)
    with pytest.raises(ValueError, match="lacks"):
        json_line({"ids": 1})


_COMPARISON = "throughput at 0 ids / the in-memory store's, same run"


def test_targets_judge_each_bound_and_the_same_run_comparison() -> None:
    rows = {row[0]: row for row in target_rows(_summary())}
    assert rows["RSS growth per million ids held (MB)"][3] == "yes"
    assert rows["restart (SIGTERM) to first new committed score (s)"][3] == "yes"
    assert rows["restart after kill -9 to first new committed score (s)"][3] == "**no**"
    assert rows["cold restore of 10,000,000 ids to /readyz 200 (s)"][3] == "yes"
    assert rows[_COMPARISON][1:] == ["0.947", ">= 0.9", "yes"]
    slower = {row[0]: row for row in target_rows(_summary(eps_ratio_at_0=0.85))}
    assert slower[_COMPARISON][3] == "**no**"
    unmeasured = {row[0]: row for row in target_rows(_summary(eps_ratio_at_0=None))}
    assert str(unmeasured[_COMPARISON][3]).startswith("not measured")


def test_eps_ratio_needs_both_sides() -> None:
    assert eps_ratio(15_000.0, 16_000.0) == 0.938
    assert eps_ratio(None, 16_000.0) is None
    assert eps_ratio(15_000.0, None) is None
    assert eps_ratio(15_000.0, 0.0) is None


def test_a_missing_measurement_is_neither_met_nor_missed() -> None:
    rows = {row[0]: row for row in target_rows(_summary(ids=300_000, cold_restore_s=None))}
    cold = rows["cold restore of 300,000 ids to /readyz 200 (s)"]
    assert cold[1:] == ["-", "<= 3.6 (120 for 10 M, scaled)", "-"]


def test_tables_name_the_reference_or_its_absence() -> None:
    restart = Restart("SIGTERM, local state", 1.2, 5.0, 6.5, 6.9, 0.0, 9_990_000.0, False)
    text = tables(_summary(), [restart])
    assert "| SIGTERM, local state | 1.20 | 5.00 | 6.50 | 6.90 | 0 | 9,990,000 | no |" in text
    assert "20,000 events/s" in text
    assert "c99ce3a" in text
    assert "holds no" in tables(_summary(reference_scorer_eps=None), [restart])
    assert "| events/s, first 200,000 ids | 18,000 | 19,000 | 0.947 |" in text
    assert "baseline 98d5c4f" in text
    assert "baseline not run" in tables(_summary(baseline_commit=None), [restart])


def test_summarize_rounds_and_names_each_restart() -> None:
    filled: dict[str, Any] = {
        "ids": 300_000,
        "edge_ids": 150_000,
        "scorer_eps_at_0": 12_345.6,
        "scorer_eps_at_n": None,
        "rss_mb_start": 230.04,
        "rss_mb_at_200k": 260.06,
        "rss_mb_at_n": 261.0,
        "rss_mb_per_million": 6.26,
        "state_bytes_on_disk": 9_000_000,
        "state_bytes_metric": 8_900_000.0,
        "state_ids_metric": 299_000.0,
        "produce_eps": 250_000.4,
    }
    restarts = [
        Restart("SIGTERM", 1.0, 4.0, 5.123, 6.0, 10.0, 299_000.0, False),
        Restart("kill -9", None, 12.0, 13.456, 14.0, 20.0, 299_500.0, False),
        Restart("cold", None, 30.111, 31.999, 33.0, 344.0, 297_000.0, True),
    ]
    provenance = {"commit": "abc", "date": "d", "machine": "m", "reference": None}
    summary = summarize(filled, restarts, provenance)
    assert orjson.loads(json_line(summary))["ids"] == 300_000
    assert summary["scorer_eps_at_0"] == 12_346
    assert summary["scorer_eps_at_n"] is None
    assert summary["rss_mb_start"] == 230.0
    assert summary["restart_first_score_s"] == 5.12
    assert summary["kill9_first_score_s"] == 13.46
    assert (summary["cold_restore_s"], summary["cold_first_score_s"]) == (30.11, 32.0)
    assert (summary["restored_records_cold"], summary["restored_ids_cold"]) == (344.0, 297_000.0)
    assert summary["restored_records_kill9"] == 20.0
    assert summary["reference_scorer_eps"] is None
    assert summary["produce_eps"] == 250_000
    assert summary["baseline_eps_at_0"] is None
    assert summary["eps_ratio_at_0"] is None
    with_baseline = summarize(
        {**filled, "baseline_commit": "98d5c4f", "baseline_eps_at_0": 13_000.04}, restarts,
        provenance,
    )  # fmt: skip
    assert with_baseline["baseline_commit"] == "98d5c4f"
    assert with_baseline["baseline_eps_at_0"] == 13_000.0
    assert with_baseline["eps_ratio_at_0"] == 0.95
