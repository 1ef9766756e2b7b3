"""What the HTTP routes read, handed over once at start-up (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from consumer.health import Readiness
from consumer.metrics import ScorerMetrics


@dataclass(frozen=True)
class ApiState:
    readiness: Readiness
    metrics: ScorerMetrics


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]
