"""The benchmark's own arithmetic: percentiles, rounds, the timetable, the exactly-once check
and the report. No broker, no timing."""

from __future__ import annotations

import orjson
import pytest

from benchmarks.report import target_rows
from benchmarks.soak import rss_growth
from benchmarks.stats import (
    JSON_KEYS,
    Rounds,
    busy_percent,
    cpu_ticks,
    delivery_problems,
    highest_rate_within,
    json_line,
    latencies_ms,
    on_schedule,
    percentile,
    poll_wait_s,
    results_entry,
    table,
    timetable,
)


def test_percentile_is_nearest_rank_never_interpolated() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled below
    shuffled = values[50:] + values[:50]
    assert percentile(shuffled, 50) == 50.0
    assert percentile(shuffled, 99) == 99.0
    assert percentile(shuffled, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0  # few samples: p99 is the worst one
    assert percentile([7.5], 50) == 7.5


@pytest.mark.parametrize("p", [0, -1, 101])
def test_percentile_refuses_a_meaningless_rank(p: float) -> None:
    with pytest.raises(ValueError, match="p must be"):
        percentile([1.0], p)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_rounds_give_the_median_and_the_range_around_it() -> None:
    rounds = Rounds((90.0, 110.0, 100.0))
    assert rounds.median == 100.0
    assert rounds.spread_pct == pytest.approx(20.0)
    assert str(rounds) == "100 (±10 %)"
    assert Rounds((0.0, 0.0)).spread_pct == 0.0


def test_the_timetable_is_fixed_by_the_rate_alone() -> None:
    assert timetable(100.0, 4.0, 3) == [100.0, 100.25, 100.5]
    with pytest.raises(ValueError, match="rate"):
        timetable(0.0, 0.0, 1)


class FakeClock:
    """A clock that only moves when slept on, or when the sender does slow work."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_sender_on_time_sleeps_until_each_slot() -> None:
    clock = FakeClock(0.0)
    due = timetable(1.0, 2.0, 3)  # 1.0, 1.5, 2.0
    sent = [(index, when, clock()) for index, when in on_schedule(due, clock, clock.sleep)]
    assert [(i, when) for i, when, _ in sent] == [(0, 1.0), (1, 1.5), (2, 2.0)]
    assert [at for _, _, at in sent] == [1.0, 1.5, 2.0]


def test_a_late_sender_keeps_the_timetable_and_skips_nothing() -> None:
    """Coordinated omission is when a stalled sender stops sending and so never records the
    latency the stall caused: here the stall stays in the numbers."""
    clock = FakeClock(0.0)
    due = timetable(0.0, 10.0, 5)  # every 100 ms
    yielded = []
    for index, when in on_schedule(due, clock, clock.sleep):
        yielded.append(when)
        if index == 1:
            clock.now += 0.35  # a 350 ms stall while sending the second event
    assert yielded == due  # measured from the due times, whatever the sender did
    assert clock.sleeps == [pytest.approx(0.1)]  # no catch-up sleep once late


def test_a_sleep_that_ends_early_does_not_send_early() -> None:
    clock = FakeClock(0.0)

    def short_sleep(seconds: float) -> None:
        clock.now += max(seconds / 2, 0.001)  # a poll that returned once it served a callback

    [(_, when)] = list(on_schedule([1.0], clock, short_sleep))
    assert when == 1.0
    assert clock.now >= 1.0


def test_latency_is_from_due_time_to_first_sight_and_unseen_keys_are_left_out() -> None:
    due = {b"a": 10.0, b"b": 10.5, b"c": 11.0}
    seen = {b"a": 10.02, b"b": 10.6}
    assert latencies_ms(due, seen) == [pytest.approx(20.0), pytest.approx(100.0)]


def test_delivery_is_clean_when_every_committed_input_is_out_once() -> None:
    assert delivery_problems(3, [b"a", b"b", b"c"], {b"a", b"b", b"c", b"d"}) == []


def test_delivery_problems_name_each_broken_promise() -> None:
    problems = delivery_problems(3, [b"a", b"a", b"zz", b"b"], {b"a", b"b", b"c"})
    assert problems == [
        "3 inputs committed but 4 outputs",
        "1 keys written more than once, e.g. b'a'",
        "1 outputs for keys never sent, e.g. b'zz'",
    ]
    assert delivery_problems(2, [b"a"], {b"a", b"b"}) == ["2 inputs committed but 1 outputs"]


def _summary() -> dict[str, object]:
    return {key: index for index, key in enumerate(JSON_KEYS)}


def test_the_json_line_has_the_agreed_keys_first_then_extras() -> None:
    line = json_line({"extra": True, **_summary()})
    assert "\n" not in line
    assert list(orjson.loads(line)) == [*JSON_KEYS, "extra"]


def test_the_json_line_refuses_a_summary_without_an_agreed_key() -> None:
    summary = _summary()
    del summary["api_p99_ms"]
    with pytest.raises(ValueError, match="api_p99_ms"):
        json_line(summary)


def test_table_and_results_entry_are_markdown() -> None:
    text = table(["a", "b"], [[1, "x"], [2, "y"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 | y |"]
    entry = results_entry(
        date="2026-11-27", commit="abc1234", machine="2 CPUs", tables=text, line='{"k":1}'
    )
    assert entry.startswith("\n## 2026-11-27 · abc1234\n")
    assert "Machine: 2 CPUs" in entry
    assert '```json\n{"k":1}\n```' in entry


def test_targets_are_judged_in_their_own_direction() -> None:
    rows = {
        row[0]: row[3]
        for row in target_rows(
            {
                "score_batch_1_ms": 1.5,
                "api_p99_ms": 12.0,
                "ratio_vs_passthrough": 0.5,
                "speedup_vs_naive": 29.9,
                "p99_ms_idle": None,  # not measured is not met
                "p99_ms_at_80pct": 50.0,
            }
        )
    }
    assert rows == {
        "score_batch_1_ms": "yes",
        "api_p99_ms": "**no**",
        "ratio_vs_passthrough": "yes",
        "speedup_vs_naive": "**no**",
        "p99_ms_idle": "**no**",
        "p99_ms_at_80pct": "yes",
    }


def test_rss_growth_compares_the_last_minute_with_the_one_after_warm_up() -> None:
    flat = [(float(t), 100.0 + (5.0 if t < 60 else 0.0)) for t in range(0, 600, 5)]
    assert rss_growth(flat, warm_up_s=120) == 0.0  # the warm-up's own bump is not counted
    leaking = [(float(t), 100.0 + t / 30) for t in range(0, 600, 5)]
    assert rss_growth(leaking, warm_up_s=120) == pytest.approx(118.83 / 104.92 - 1, abs=1e-3)
    with pytest.raises(ValueError, match="too short"):
        rss_growth([(0.0, 1.0)], warm_up_s=120)


def test_a_wait_under_librdkafkas_millisecond_is_rounded_up_not_spun() -> None:
    assert poll_wait_s(0.0004) == 0.001  # poll(0.0004) would be poll(0): a busy loop
    assert poll_wait_s(-0.5) == 0.001
    assert poll_wait_s(0.25) == 0.25


def test_the_rate_within_the_latency_bound_stops_at_the_first_breach() -> None:
    measured = [(5.0, 20.0), (2_000.0, 35.0), (5_000.0, 49.9), (8_000.0, 900.0), (12_000.0, 40.0)]
    assert highest_rate_within(measured, 50.0) == 5_000.0  # 12,000 after a breach: noise
    assert highest_rate_within(list(reversed(measured)), 50.0) == 5_000.0  # order given: any
    assert highest_rate_within([(5.0, 80.0), (100.0, 10.0)], 50.0) == 0.0
    assert highest_rate_within([(5.0, 10.0), (100.0, None)], 50.0) == 5.0  # nothing seen


def test_machine_cpu_busy_counts_everything_but_idle_and_iowait() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    first = cpu_ticks("cpu  100 0 50 800 40 5 5 0 30 0")
    assert first == (160, 1000)  # guest (30) is inside user already, not counted twice
    later = cpu_ticks("cpu  250 0 100 850 50 10 10 0 60 0")
    assert later == (370, 1270)
    assert busy_percent(first, later) == pytest.approx(100 * 210 / 270)
    assert busy_percent(later, later) == 0.0
