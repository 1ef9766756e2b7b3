"""`make nemesis`'s pure half: the schedule, the gaps, the verdict's arithmetic, the report."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from benchmarks.nemesis_plan import (
    BROKER,
    BROKER_SETTLE_S,
    KINDS,
    SCORER_KINDS,
    SCORER_SETTLE_S,
    Fault,
    Gap,
    expected_code,
    gap_label,
    green,
    label_text,
    last_error_line,
    longest_gaps,
    longest_silence,
    lost_and_doubled,
    overlapping,
    plan,
    recovery_target_met,
    resume_s,
    with_run,
)

SCORERS = ["scorer-0", "scorer-1", "scorer-2"]
SEEDS = range(40)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    assert plan(7, 600, SCORERS, 10.0) == plan(7, 600, SCORERS, 10.0)
    assert plan(7, 600, SCORERS, 10.0) != plan(8, 600, SCORERS, 10.0)


def test_every_fault_is_undone_within_the_run() -> None:
    for seed in SEEDS:
        faults = plan(seed, 300, SCORERS, 10.0)
        assert faults, seed
        assert all(f.at_s > 0 and f.end_s <= 300 and f.hold_s > 0 for f in faults), seed
        assert [f.at_s for f in faults] == sorted(f.at_s for f in faults)


def test_ten_minutes_bring_every_kind_of_fault_and_overlapping_ones() -> None:
    kinds: Counter[str] = Counter()
    for seed in SEEDS:
        faults = plan(seed, 600, SCORERS, 10.0)
        kinds.update(f.kind for f in faults)
        assert overlapping(faults) > 0, seed
        assert len({f.kind for f in faults}) >= 4, seed
    assert set(kinds) == set(KINDS)


def test_a_scorer_is_killed_while_the_broker_is_down_in_some_runs() -> None:
    def inside_outage(faults: list[Fault]) -> bool:
        outages = [f for f in faults if f.kind == "broker-kill9"]
        return any(
            f.kind == "kill9" and o.at_s <= f.at_s < o.end_s for f in faults for o in outages
        )

    assert sum(inside_outage(plan(seed, 600, SCORERS, 10.0)) for seed in SEEDS) >= 10


def test_sigstop_holds_past_the_session() -> None:
    stops = [f for s in SEEDS for f in plan(s, 600, SCORERS, 12.0) if f.kind == "sigstop"]
    assert stops
    assert all(f.hold_s > 12.0 for f in stops)


def test_one_fault_per_scorer_at_a_time_and_one_scorer_always_left_alone() -> None:
    for seed in SEEDS:
        faults = plan(seed, 600, SCORERS, 10.0)
        on_scorers = [f for f in faults if f.kind in SCORER_KINDS]
        for name in SCORERS:
            mine = [f for f in on_scorers if f.target == name]
            for earlier, later in itertools.pairwise(mine):
                assert later.at_s >= earlier.end_s + SCORER_SETTLE_S, (seed, earlier, later)
        for fault in on_scorers:  # scorers busy (in a fault or settling) when it begins
            busy = {
                f.target for f in on_scorers if f.at_s <= fault.at_s < f.end_s + SCORER_SETTLE_S
            }
            assert len(busy) <= len(SCORERS) - 1, (seed, fault)
        outages = [f for f in faults if f.target == BROKER]
        for earlier, later in itertools.pairwise(outages):
            assert later.at_s >= earlier.end_s + BROKER_SETTLE_S
        extras = [f for f in faults if f.kind == "join-leave"]
        assert len({f.target for f in extras}) == len(extras)  # a new member each time


def test_the_schedule_needs_two_scorers() -> None:
    with pytest.raises(ValueError, match="two scorers"):
        plan(1, 600, ["alone"], 10.0)


def test_overlapping_counts_pairs_in_force_at_once() -> None:
    a = Fault(0, "kill9", "x", 10)
    b = Fault(5, "broker-kill9", BROKER, 10)  # overlaps a
    c = Fault(10, "sigstop", "y", 1)  # starts as a ends: overlaps b only
    d = Fault(30, "sigterm", "x", 1)
    assert overlapping([a, b, c, d]) == 2


def test_output_resumes_at_the_first_output_anywhere_or_on_every_partition() -> None:
    arrivals = {0: [1.0, 2.0, 9.0], 1: [1.5, 4.0], 2: [0.5, 2.5, 3.0]}
    assert resume_s(arrivals, 2.0) == pytest.approx(0.5)  # partition 2 at 2.5
    assert resume_s(arrivals, 2.0, every=True) == pytest.approx(7.0)  # partition 0 at 9.0
    assert resume_s(arrivals, 0.0, every=True) == pytest.approx(1.5)
    assert resume_s(arrivals, 4.0) == pytest.approx(5.0)
    assert resume_s(arrivals, 4.0, every=True) is None  # partition 1 never had output again
    assert resume_s(arrivals, 9.0) is None


def test_the_longest_silence_a_fault_was_in_force_for() -> None:
    arrivals = {
        0: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # flows on (another member's partition)
        # its member frozen at 3.0: the scores it committed before reach the reader at 3.1,
        # then nothing until 15.0; the first output after the fault would say 0.1 s
        1: [1.0, 2.0, 3.1, 15.0, 16.0],
        2: [0.5, 1.5, 2.5, 30.0],  # silent since 2.5 (an earlier fault): counted from 3.0
    }
    assert longest_silence(arrivals, 3.0, 10.0) == pytest.approx(27.0)
    assert longest_silence({0: arrivals[0], 1: arrivals[1]}, 3.0, 10.0) == pytest.approx(11.9)
    assert longest_silence({0: arrivals[0]}, 3.0, 10.0) == pytest.approx(1.0)
    # a silence that began after the fault was over is not this fault's
    assert longest_silence({1: arrivals[1]}, 0.0, 2.5) == pytest.approx(1.1)
    assert longest_silence({0: arrivals[0]}, 6.0, 10.0) is None  # never had output again


def test_a_gap_is_marked_when_a_broker_outage_overlapped_its_fault() -> None:
    outages = [(10.0, 40.0), (100.0, 120.0)]
    assert gap_label("kill9", 0.0, 9.9, outages) == "kill9"
    assert gap_label("kill9", 0.0, 10.5, outages) == "kill9+broker"
    assert gap_label("sigstop", 39.0, 60.0, outages) == "sigstop+broker"
    assert gap_label("leave", 40.0, 99.0, outages) == "leave"
    assert label_text("kill9+broker") == "scorer kill -9, restarted, the broker down meanwhile"
    assert label_text("leave") == "a member leaves (SIGTERM)"


def test_the_longest_gap_per_kind_and_a_gap_that_never_closed() -> None:
    gaps = [Gap("kill9", 3.0), Gap("kill9", 11.5), Gap("sigstop", 14.0), Gap("sigstop", None)]
    assert longest_gaps(gaps) == {"kill9": (2, 11.5), "sigstop": (2, None)}


def test_the_recovery_target_counts_only_broker_outages() -> None:
    assert recovery_target_met([Gap("broker-kill9", 12.0), Gap("sigstop", 40.0)], 15.0)
    assert not recovery_target_met([Gap("broker-kill9", 12.0), Gap("broker-kill9", 15.1)], 15.0)
    assert not recovery_target_met([Gap("broker-kill9", None)], 15.0)


def test_lost_and_doubled() -> None:
    assert lost_and_doubled({"a", "b", "c"}, ["a", "a", "a", "b"]) == (1, 2)
    assert lost_and_doubled({"a"}, ["a"]) == (0, 0)


def test_the_exit_codes_our_own_signals_ask_for() -> None:
    assert expected_code("kill9", -9)
    assert expected_code("sigterm", 0)
    assert not expected_code("sigterm", -15)  # killed by SIGTERM before its handler was set
    assert not expected_code("sigterm", 1)
    assert not expected_code("kill9", 0)


def test_the_last_error_line_is_the_last_error_level_line_or_the_exception() -> None:
    log = "\n".join(
        [
            '{"level": "error", "message": "first"}',
            '{"level": "info", "message": "fine"}',
            '{"levelname":"CRITICAL","message":"last"}',
            '{"level": "info", "message": "later, fine"}',
        ]
    )
    assert last_error_line(log) == '{"levelname":"CRITICAL","message":"last"}'
    crash = 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom\n'
    assert last_error_line("ok\n" + crash) == "RuntimeError: boom"
    assert last_error_line('{"level": "info"}\n') is None


def _summary(**changes: object) -> dict[str, object]:
    clean = {
        "lost": 0,
        "doubled": 0,
        "dead_letters_lost": 0,
        "dead_letters_doubled": 0,
        "reader_saw_twice": 0,
        "out_of_order_keys": 0,
        "uncommitted_partitions": 0,
        "recovery_target_met": True,
    }
    return clean | changes


@pytest.mark.parametrize(
    "change",
    [
        {"lost": 1},
        {"doubled": 1},
        {"dead_letters_lost": 1},
        {"dead_letters_doubled": 1},
        {"reader_saw_twice": 1},
        {"out_of_order_keys": 1},
        {"uncommitted_partitions": 1},
        {"recovery_target_met": False},
    ],
)
def test_green_only_with_nothing_lost_doubled_or_late(change: dict[str, object]) -> None:
    assert green(_summary())
    assert not green(_summary(**change))


def test_a_run_goes_at_the_end_of_its_own_section_leaving_the_others_alone() -> None:
    doc = "# R\n\n## A\n\na\n\n## make nemesis\n\nintro\n\n## Known issues\n\nk\n"
    once = with_run(doc, "## make nemesis", "\n### run 1\n")
    assert once == (
        "# R\n\n## A\n\na\n\n## make nemesis\n\nintro\n\n### run 1\n\n## Known issues\n\nk\n"
    )
    twice = with_run(once, "## make nemesis", "\n### run 2\n")
    assert twice.index("### run 1") < twice.index("### run 2") < twice.index("## Known issues")
    assert twice.endswith("## Known issues\n\nk\n")


def test_a_document_without_the_section_gets_it_at_its_end() -> None:
    assert with_run("# R\n\ntext\n", "## make nemesis", "\n### run\n") == (
        "# R\n\ntext\n\n## make nemesis\n\n### run\n"
    )
