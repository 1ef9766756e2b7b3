"""The request body of `POST /v1/score` in the OpenAPI document, from the contract's own schema,
and the refusals' `ErrorBody`.

The route reads its raw body (see `request_body`), so FastAPI cannot see the type; the schema is
generated here from the same pydantic models and its definitions are added to the document's
components, so `/docs` and client generators see the real contract, limits included.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias, cast

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import Field, TypeAdapter

from consumer.api.problems import ErrorBody
from consumer.api.request_body import MAX_APPLICATIONS, MAX_BODY_BYTES
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import MAX_EVENT_BYTES

ScoreRequestBody: TypeAlias = (
    LoanApplicationSubmitted
    | Annotated[list[LoanApplicationSubmitted], Field(min_length=1, max_length=MAX_APPLICATIONS)]
)

_REF_TEMPLATE = "#/components/schemas/{model}"


def _request_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    # mypy reads pydantic's `TypeForm[T]` as `type[T]`, which a union is not; hence the cast.
    adapter = TypeAdapter[ScoreRequestBody](cast(Any, ScoreRequestBody))
    schema = adapter.json_schema(ref_template=_REF_TEMPLATE)
    definitions = schema.pop("$defs", {})
    schema["description"] = (
        f"One application (at most {MAX_EVENT_BYTES} bytes) or a list of 1 to "
        f"{MAX_APPLICATIONS} (each at most {MAX_EVENT_BYTES} bytes as sent, "
        f"{MAX_BODY_BYTES} bytes in all)."
    )
    return schema, definitions


_SCHEMA, _DEFINITIONS = _request_schema()
# The refusals' body, declared by `error_responses` by reference only (see there).
_DEFINITIONS["ErrorBody"] = ErrorBody.model_json_schema(ref_template=_REF_TEMPLATE)

SCORE_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _SCHEMA}}}
}


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with FastAPI's generator plus the request body's definitions."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in _DEFINITIONS.items():
                if schemas.setdefault(name, definition) != definition:
                    raise RuntimeError(f"two different OpenAPI schemas are named {name}")
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
