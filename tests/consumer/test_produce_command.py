"""`loan-scorer produce`: --rate kept by the clock (issue 25: `poll(delay)` returned at the first
delivery report, so `--rate 5 --count 50` took 2.5 s instead of 10), progress only on a terminal,
result lines counted with the right plural."""

from __future__ import annotations

import io
import time

import pytest
from confluent_kafka import Consumer
from rich.console import Console
from typer.testing import CliRunner

from consumer.cli import app
from consumer.cli.terminal import progress_bar
from consumer.tools.demo_producer import Pacer
from consumer.tools.wording import counted
from tests.conftest import TopicFactory


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_waits_until_due_even_when_idle_returns_early() -> None:
    """The idle call (the producer's poll) returns after at most 10 ms, as poll does at each
    delivery report under load; the pacer keeps waiting until the clock says the send is due."""
    clock = FakeClock()
    idled: list[float] = []

    def idle(seconds: float) -> None:
        idled.append(seconds)
        clock.now += min(seconds, 0.01)

    pacer = Pacer(20.0, clock)
    pacer.wait(0, idle)  # the first send goes at once and starts the schedule
    assert idled == []
    for index in range(1, 201):
        pacer.wait(index, idle)
        assert clock.now >= 100.0 + index / 20
    assert clock.now == pytest.approx(110.0, abs=1e-6)
    assert len(idled) > 200  # several short waits per send, as with early poll returns


def test_a_send_that_falls_behind_goes_at_once_and_the_schedule_holds() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock)
    pacer.wait(0, lambda _s: None)
    clock.now += 1.0  # a one-second stall: sends 1 to 10 were due meanwhile

    def must_not_wait(_seconds: float) -> None:
        raise AssertionError("a late send must not wait")

    for index in range(1, 11):
        pacer.wait(index, must_not_wait)
    waited: list[float] = []

    def idle(seconds: float) -> None:
        waited.append(seconds)
        clock.now += seconds

    pacer.wait(11, idle)
    assert waited == [pytest.approx(0.1)]


def test_an_unlimited_rate_never_waits() -> None:
    pacer = Pacer(0.0, FakeClock())
    for index in range(3):
        pacer.wait(index, lambda _s: pytest.fail("waited"))


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [(0, "record", "0 records"), (1, "record", "1 record"), (2, "record", "2 records")],
)
def test_counted_says_one_record_and_two_records(count: int, noun: str, expected: str) -> None:
    assert counted(count, noun) == expected


def test_counted_takes_an_irregular_plural() -> None:
    assert counted(1, "analysis", "analyses") == "1 analysis"
    assert counted(3, "analysis", "analyses") == "3 analyses"


def test_progress_shows_count_rate_and_time_left_on_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with progress_bar(console=console) as bar:
        task = bar.add_task("sending", total=10)
        for _ in range(4):
            bar.advance(task, 1)
            time.sleep(0.05)
        bar.refresh()
    shown = screen.getvalue()
    assert "4/10" in shown
    assert "/s" in shown
    assert "0:00:0" in shown  # the time left


def test_progress_is_silent_when_stderr_is_not_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen)  # a file, not a terminal: as in a pipe, a log or CI
    assert not console.is_terminal
    with progress_bar(console=console) as bar:
        task = bar.add_task("sending", total=10)
        bar.advance(task, 10)
        bar.refresh()
    assert screen.getvalue() == ""


RATE = 20.0
COUNT = 200


def test_produce_rate_20_count_200_takes_10_s_within_5_percent(
    kafka_bootstrap: str, create_topic: TopicFactory
) -> None:
    """Against the real broker. The rate is read off the records' own timestamps (the client
    stamps each when it is handed over): the 200 sends span 199 intervals of 50 ms, 9.95 s,
    within 5 %. The command's wall time adds its start (imports, the data set: seconds on a busy
    machine) and the last acknowledgement, so it is held to at least 95 % of 10 s and at most
    the span plus what came before the first send and after the last."""
    topic = create_topic("paced")
    env = {"LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LOAN_SCORER_INPUT_TOPIC": topic}
    args = ["produce", "--rate", f"{RATE:g}", "--count", str(COUNT)]

    started, started_wall = time.monotonic(), time.time()
    result = CliRunner().invoke(app, args, env=env)
    elapsed = time.monotonic() - started

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"sent 200 events to {topic}: 200 valid, 0 broken"
    # No progress (CliRunner's stderr is not a terminal): at most JSON log lines, which depend on
    # how an earlier test left logging configured.
    assert all(line.startswith("{") for line in result.stderr.splitlines()), result.stderr
    stamps = sorted(_timestamps_ms(kafka_bootstrap, topic))
    assert len(stamps) == COUNT
    span_s = (stamps[-1] - stamps[0]) / 1000
    expected_s = (COUNT - 1) / RATE
    assert expected_s * 0.95 <= span_s <= expected_s * 1.05, f"sent over {span_s:.2f} s"
    assert elapsed >= COUNT / RATE * 0.95, f"the command took {elapsed:.2f} s"
    first_send_s = stamps[0] / 1000 - started_wall  # the command's start: imports, data set
    assert elapsed - span_s - first_send_s < 2.0, f"{elapsed:.2f} s for {span_s:.2f} s of sending"


def _timestamps_ms(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-check",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    stamps: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while len(stamps) < COUNT and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                stamps.append(message.timestamp()[1])
    finally:
        consumer.close()
    return stamps
