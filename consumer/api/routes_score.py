"""`POST /v1/score`: on-demand scores for the CRM and analysts, by the stream's code path.

Order matters for abuse: authentication, scope and the client's rate limit come first (as
dependencies, before a byte of the body is read); then the body is read within the body-read
timeout; only then is a scoring slot taken, so slow uploads never hold the slots that scoring
needs. Each decision served is written to the audit trail (`consumer.telemetry.audit`).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from consumer.api.assets import ModelAndPolicy
from consumer.api.deps import ScorerDep
from consumer.api.openapi import SCORE_REQUEST_BODY
from consumer.api.outcomes import ScoredItem, ScoreFailure, encode_item, score_applications
from consumer.api.problems import ApiError, error_responses
from consumer.api.request_body import (
    MAX_APPLICATIONS,
    parse_score_request,
    read_bounded,
    require_json,
)
from consumer.api.request_id import request_id_of
from consumer.api.state import StateDep
from consumer.telemetry import audit
from schemas.score_v1 import LoanScored

router = APIRouter(tags=["scoring"])

_DESCRIPTION = f"""
Scores one `LoanApplicationSubmitted` or a list of 1 to {MAX_APPLICATIONS}, with the model,
policy, validation and `LoanScored` mapping of the Kafka stream.

* Send `Authorization: Bearer KEY` (an API key or an OAuth2 JWT) with the `score` scope.
* One application in: one `LoanScored` out (200). If the model cannot score it: 422,
  `error: scoring_error`.
* A list in: a list out, in input order (200); an application the model cannot score has a
  `ScoreFailure` in its slot instead. One invalid application refuses the whole list (422).
* Nothing is published to Kafka: this is a what-would-the-decision-be call.
"""


@router.post(
    "/v1/score",
    summary="Score one application or a list of them",
    description=_DESCRIPTION,
    response_model=LoanScored | list[ScoredItem],
    responses=error_responses(400, 401, 403, 408, 413, 415, 422, 429, 503),
    openapi_extra=SCORE_REQUEST_BODY,
)
async def score(request: Request, state: StateDep, principal: ScorerDep) -> Response:
    started = time.perf_counter()
    assets = state.assets.require()
    require_json(request)
    raw = await read_bounded(request, timeout_s=state.body_timeout_s)
    with state.scoring.admit():
        items, body = await state.scoring.run(_score_body, raw, assets)
    latency_ms = (time.perf_counter() - started) * 1000
    request_id = request_id_of(request)
    for item in items:
        _audit(item, principal.client, request_id, latency_ms)
    if isinstance(body, ApiError):
        raise body
    return Response(body, media_type="application/json")


def _score_body(raw: bytes, assets: ModelAndPolicy) -> tuple[list[ScoredItem], bytes | ApiError]:
    """Parsing, scoring and encoding all run in the scoring thread, never on the event loop."""
    request = parse_score_request(raw)
    items = score_applications(request.applications, assets)
    if request.is_list:
        return items, b"[" + b",".join(encode_item(item) for item in items) + b"]"
    (item,) = items
    if isinstance(item, ScoreFailure):
        return items, ApiError(422, item.error, item.message)
    return items, encode_item(item)


def _audit(item: ScoredItem, client: str, request_id: str, latency_ms: float) -> None:
    if isinstance(item, LoanScored):
        audit.api_decision(
            client=client,
            request_id=request_id,
            application_id=item.application_id,
            model_version=item.model_version,
            policy_version=item.policy_version,
            decision=item.decision.value,
            latency_ms=latency_ms,
        )
    else:
        audit.api_decision(
            client=client,
            request_id=request_id,
            application_id=item.application_id,
            model_version=None,
            policy_version=None,
            decision=item.error,
            latency_ms=latency_ms,
        )
