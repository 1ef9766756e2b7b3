"""The demo's upstream system: the real credit_data applications as v1 events, some broken.

Pure generation, so tests know exactly which events are broken and how; the Kafka side is in
`consumer.tools.demo_producer`. Identifiers and timestamps are fresh per replay (an upstream system
submits each application anew); the applicants' attributes are the data set's, untouched.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from consumer.records import UtcClock, utc_now
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.encode import encode_loan_outcome
from schemas.outcome_v1 import loan_outcome_for
from training.dataset import iter_applications


@dataclass(frozen=True, slots=True)
class DemoEvent:
    key: bytes
    value: bytes
    broken: str | None  # which breakage, or None for a valid event


def _as_dict(app: LoanApplicationSubmitted) -> dict[str, Any]:
    return app.model_dump(mode="json")


def _truncate(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)[:-7]


def _string_number(event: dict[str, Any]) -> bytes:
    event["finances"]["monthly_expenses"] = str(event["finances"]["monthly_expenses"])
    return orjson.dumps(event)


def _unknown_enum(event: dict[str, Any]) -> bytes:
    event["applicant"]["home_ownership"] = "castle"
    return orjson.dumps(event)


def _naive_timestamp(event: dict[str, Any]) -> bytes:
    event["occurred_at"] = "2026-01-01T09:30:00"
    return orjson.dumps(event)


def _missing_field(event: dict[str, Any]) -> bytes:
    del event["loan"]["amount"]
    return orjson.dumps(event)


def _major_version_2(event: dict[str, Any]) -> bytes:
    event["schema_version"] = "2.0"
    return orjson.dumps(event)


def _nan_amount(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event).replace(b'"amount":', b'"amount":NaN,"was":', 1)


BREAKERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "invalid_json": _truncate,
    "string_number": _string_number,
    "unknown_enum": _unknown_enum,
    "naive_timestamp": _naive_timestamp,
    "missing_field": _missing_field,
    "major_version_2": _major_version_2,
    "nan_amount": _nan_amount,
}


def demo_events(
    count: int | None = None,
    *,
    broken_share: float = 0.0,
    broken_every: int | None = None,
    seed: int = 7,
    now: UtcClock = utc_now,
) -> Iterator[DemoEvent]:
    """Replay the data set's applications (cycling if `count` exceeds it) as v1 events.

    Broken events are chosen at random with probability `broken_share`, or exactly every
    `broken_every`-th event (1-based) when that is given; the breakage kinds rotate.
    """
    if not 0.0 <= broken_share <= 1.0:
        raise ValueError("broken_share must be between 0 and 1")
    if broken_every is not None and broken_every < 1:
        raise ValueError("broken_every must be at least 1")
    rng = random.Random(seed)  # noqa: S311  # picks demo breakage, not secrets
    applications = [app for app, _label in iter_applications()]
    kinds = list(BREAKERS)
    produced = 0
    cycle = 0
    while count is None or produced < count:
        for app in applications:
            if count is not None and produced >= count:
                return
            produced += 1
            application_id = app.application_id if cycle == 0 else f"{app.application_id}-r{cycle}"
            event = _as_dict(app)
            event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            event["application_id"] = application_id
            event["occurred_at"] = now().isoformat()
            if broken_every is not None:
                broken = produced % broken_every == 0
            else:
                broken = rng.random() < broken_share
            if broken:
                kind = kinds[produced % len(kinds)]
                yield DemoEvent(application_id.encode(), BREAKERS[kind](event), kind)
            else:
                yield DemoEvent(application_id.encode(), orjson.dumps(event), None)
        if count is None:
            return
        cycle += 1


OUTCOME_SOURCE = "credit_data replay"


def demo_outcomes(count: int | None = None, *, now: UtcClock = utc_now) -> Iterator[DemoEvent]:
    """The real outcome (the data set's `Status`: bad is a default) of each of the first `count`
    applications `demo_events` sends (every one by default), keyed and named alike; the servicing
    system's stand-in. `broken` is "defaulted" for a default, so the producer counts them."""
    for produced, (app, label) in enumerate(iter_applications()):
        if count is not None and produced >= count:
            return
        outcome = loan_outcome_for(
            app.application_id, defaulted=label == 1, source=OUTCOME_SOURCE, observed_at=now()
        )
        yield DemoEvent(
            app.application_id.encode(),
            encode_loan_outcome(outcome),
            "defaulted" if outcome.defaulted else None,
        )
