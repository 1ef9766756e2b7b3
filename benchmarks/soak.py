"""`make soak-rss`: the scorer's resident memory over a long steady run must stay flat.

One real `loan-scorer run` process scores real applications at a steady rate for `--minutes`
(10 by default); its RSS is sampled every few seconds. The first two minutes are warm-up (caches,
the drift window filling); the check compares the median RSS of the last minute with that of the
minute after warm-up: growth must be under 5 %. A leak of even a few hundred bytes per event
shows up at this scale (200 events/s for 8 minutes is 96,000 events).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Sequence

from benchmarks.kafka_side import rss_mb, send_on_timetable
from benchmarks.stats import timetable
from benchmarks.testbed import add_testbed_arguments, log, testbed_from_arguments
from consumer.tools.demo_events import demo_events

MAX_GROWTH = 0.05
DEDUP_WINDOW_S = 60


def rss_growth(samples: Sequence[tuple[float, float]], warm_up_s: float) -> float:
    """(median RSS of the last minute) / (median RSS of the minute after warm-up) - 1, from
    (seconds since start, MB) samples."""
    end = samples[-1][0]
    baseline = [mb for at, mb in samples if warm_up_s <= at < warm_up_s + 60]
    last = [mb for at, mb in samples if at >= end - 60]
    if not baseline or not last:
        raise ValueError("the run is too short for a baseline minute and a last minute")
    return statistics.median(last) / statistics.median(baseline) - 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    add_testbed_arguments(parser)
    args = parser.parse_args(argv)
    testbed = testbed_from_arguments(parser, args)
    seconds = args.minutes * 60
    warm_up_s = min(120.0, seconds / 5)
    topics = testbed.new_topics("soak")
    # The deduplication memory grows by design until its window is full (7 days by default:
    # about 150 bytes per event id); a one-minute window fills during the warm-up, so what the
    # check sees is a leak, or the window's eviction failing, not the window filling.
    proc = testbed.process(
        "scorer", topics, f"{testbed.prefix}-soak", LOAN_SCORER_DEDUP_WINDOW_S=str(DEDUP_WINDOW_S)
    )
    proc.start()
    samples: list[tuple[float, float]] = []
    try:
        proc.wait_ready(120)
        assert proc.process is not None
        count = int(args.rate * seconds)
        events = list(demo_events(count))
        due = timetable(time.time() + 1, args.rate, count)
        sender = threading.Thread(
            target=send_on_timetable, args=(args.bootstrap, topics.input, events, due), daemon=True
        )
        started = time.monotonic()
        sender.start()
        while sender.is_alive():
            samples.append((time.monotonic() - started, rss_mb(proc.process.pid)))
            log(f"RSS {samples[-1][1]:.1f} MB at {samples[-1][0]:.0f} s")
            sender.join(5.0)
    finally:
        testbed.stop(proc)
        testbed.cleanup()
    growth = rss_growth(samples, warm_up_s)
    verdict = "flat" if growth < MAX_GROWTH else "GROWING"
    print(
        f"RSS {verdict}: {100 * growth:+.1f} % from the minute after {warm_up_s:.0f} s of warm-up "
        f"to the last minute, {len(events)} events at {args.rate:g}/s "
        f"(bound {100 * MAX_GROWTH:.0f} %)"
    )
    return 0 if growth < MAX_GROWTH and not testbed.problems else 1


if __name__ == "__main__":
    sys.exit(main())
