"""What the HTTP routes read, handed over once at start-up (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from consumer.api.assets import AssetsSlot
from consumer.api.auth import Authenticator
from consumer.api.rate_limit import RateLimiter
from consumer.api.worker import ScoringWorker
from consumer.telemetry.liveness import Liveness
from consumer.telemetry.metrics import ScorerMetrics
from consumer.telemetry.readiness import Readiness


@dataclass(frozen=True)
class ApiState:
    readiness: Readiness
    metrics: ScorerMetrics
    # Empty until the service has loaded the model; the scoring routes answer 503 until then.
    assets: AssetsSlot = field(default_factory=AssetsSlot)
    scoring: ScoringWorker = field(default_factory=ScoringWorker)
    # Beaten by the Kafka loop; /healthz fails when it stalls.
    liveness: Liveness = field(default_factory=Liveness)
    # Closed by default: enabled with no credentials configured refuses every scoring call.
    auth: Authenticator = field(default_factory=Authenticator)
    rate_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(20.0, 40))
    # A request body must arrive whole within this time (see `request_body.read_bounded`).
    body_timeout_s: float = 10.0


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]
