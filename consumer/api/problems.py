"""Every refusal of the API as one small JSON shape, so clients branch on `error`, not on prose.

The body is an RFC 9457 Problem Details object (`type`, `title`, `status`, `detail`, served as
`application/problem+json`) whose extension members are our own `error`, `message` and `fields`,
so generic HTTP tooling and our clients read the same answer. `error` is a short fixed code;
`message` and `fields` name fields and rules, never the values the client sent (the same rule as
dead-letter headers: applications carry personal data). Authentication refusals say only that
access was refused, never which part of the credential failed (see `consumer.api.auth`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ErrorBody(BaseModel):
    type: Annotated[str, Field(description="RFC 9457: always about:blank (see `error`).")] = (
        "about:blank"
    )
    title: Annotated[str, Field(description="RFC 9457: the HTTP status phrase.")] = ""
    status: Annotated[int, Field(description="RFC 9457: the HTTP status code.")] = 0
    detail: Annotated[str, Field(description="RFC 9457: the same text as `message`.")] = ""
    error: Annotated[str, Field(description="Fixed code, e.g. schema_violation, oversize.")]
    message: Annotated[str, Field(description="What was wrong, by field path and rule.")]
    fields: Annotated[
        list[str],
        Field(description="Field paths at fault; `[i].` prefixes an element of a list body."),
    ] = []


class ApiError(Exception):
    """Raised anywhere below a route, the scoring thread included; see `problem_response`."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        fields: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = ErrorBody(
            title=HTTPStatus(status_code).phrase,
            status=status_code,
            detail=message,
            error=error,
            message=message,
            fields=list(fields),
        )
        self.headers = headers


async def problem_response(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, ApiError):  # registered for ApiError only; anything else is a bug
        raise exc
    return JSONResponse(
        exc.body.model_dump(),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


ERROR_BODY_REF = "#/components/schemas/ErrorBody"


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The OpenAPI entries for the refusals a route can give: the `ErrorBody` schema under the
    media type it is served with, application/problem+json. (FastAPI's `model` key would declare
    application/json, which no refusal is sent as; `install_openapi` adds the schema.)"""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": ERROR_BODY_REF}}},
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "The body is not JSON (or is empty).",
    413: "The body, or one application in it, is larger than the limit.",
    401: "No valid credential was sent (the answer never says which part failed).",
    403: "The credential does not grant the scope this route needs.",
    408: "The body did not arrive within the body-read timeout.",
    415: "The content type is not application/json.",
    422: "The body does not satisfy the contract, or the model could not score the application.",
    429: "This client is over its rate limit; retry after the Retry-After delay.",
    503: "The model is not loaded yet, or the scorer is busy; retry after the Retry-After delay.",
}
