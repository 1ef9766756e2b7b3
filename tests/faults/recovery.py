"""Measuring recovery the way an operator sees it: from the fault to the next committed output."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tests.faults.stream import CommittedReader, Verdict


def unique(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}"


def seconds_to_next_output(
    reader: CommittedReader,
    since: float,
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
) -> float:
    """Seconds from `since` to the first committed output written after it. The reader first
    drains what was committed before (it may lag the scorer by a moment)."""
    quiet_from = time.monotonic()
    last = reader.count()
    while time.monotonic() - quiet_from < 0.5:
        time.sleep(0.05)
        if reader.count() != last:
            last, quiet_from = reader.count(), time.monotonic()
    recovered = reader.first_arrival_after(quiet_from, timeout_s, alive)
    assert alive(), "the scorer died in the fault"
    assert recovered is not None, f"no committed output within {timeout_s} s of the fault"
    return quiet_from + recovered - since


@dataclass
class FaultRow:
    fault: str
    delivery: str
    events: int
    injected: int
    lost: int
    duplicated: int
    recovery_s: float | None

    @classmethod
    def of(
        cls,
        fault: str,
        delivery: str,
        events: int,
        injected: int,
        result: Verdict,
        recoveries: list[float],
    ) -> dict[str, Any]:
        return asdict(
            cls(
                fault=fault,
                delivery=delivery,
                events=events,
                injected=injected,
                lost=result.lost + result.dead_letters_lost,
                duplicated=result.duplicated + result.dead_letters_duplicated,
                recovery_s=round(max(recoveries), 1) if recoveries else None,
            )
        )
