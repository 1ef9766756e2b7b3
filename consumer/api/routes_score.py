"""`POST /v1/score`: on-demand scores for the CRM and analysts, by the stream's code path."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from consumer.api.assets import ModelAndPolicy
from consumer.api.openapi import SCORE_REQUEST_BODY
from consumer.api.outcomes import ScoredItem, ScoreFailure, encode_item, score_applications
from consumer.api.problems import ApiError, error_responses
from consumer.api.request_body import (
    MAX_APPLICATIONS,
    parse_score_request,
    read_bounded,
    require_json,
)
from consumer.api.state import StateDep
from schemas.score_v1 import LoanScored

router = APIRouter(tags=["scoring"])

_DESCRIPTION = f"""
Scores one `LoanApplicationSubmitted` or a list of 1 to {MAX_APPLICATIONS}, with the model,
policy, validation and `LoanScored` mapping of the Kafka stream.

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
    responses=error_responses(400, 413, 415, 422, 503),
    openapi_extra=SCORE_REQUEST_BODY,
)
async def score(request: Request, state: StateDep) -> Response:
    assets = state.assets.require()
    require_json(request)
    with state.scoring.admit():
        raw = await read_bounded(request)
        body = await state.scoring.run(_score_body, raw, assets)
    return Response(body, media_type="application/json")


def _score_body(raw: bytes, assets: ModelAndPolicy) -> bytes:
    """Parsing, scoring and encoding all run in the scoring thread, never on the event loop."""
    request = parse_score_request(raw)
    items = score_applications(request.applications, assets)
    if request.is_list:
        return b"[" + b",".join(encode_item(item) for item in items) + b"]"
    (item,) = items
    if isinstance(item, ScoreFailure):
        raise ApiError(422, item.error, item.message)
    return encode_item(item)
