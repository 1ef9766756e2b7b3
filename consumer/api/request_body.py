"""The body of `POST /v1/score`: bounded reading, then the contract's own strict decoder.

FastAPI's body parameters would read an unbounded body and validate through a second path; here a
single application goes through `decode_application`, byte for byte what the stream does, and each
element of a list goes through the same decoder as the bytes it was sent as (never re-serialised:
a 16,385-byte element would shrink under the limit, and a NaN in it would be written as null), so
the API can accept nothing the stream would dead-letter and refuse nothing the stream would score.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Final

from pydantic_core import from_json
from starlette.requests import ClientDisconnect, Request

from consumer.api.problems import ApiError
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import MAX_EVENT_BYTES, decode_application
from schemas.errors import DeadLetterReason, EventDecodeError, InvalidJsonError, OversizeError

MAX_APPLICATIONS: Final = 100
MAX_BODY_BYTES: Final = MAX_APPLICATIONS * MAX_EVENT_BYTES
_MAX_ELEMENT_ERRORS_IN_MESSAGE = 5
DEFAULT_BODY_TIMEOUT_S: Final = 10.0
_JSON_MEDIA_TYPE = "application/json"
# In a JSON text known to be valid: a whole string (whose brackets and commas are not structure),
# or one structural byte. Possessive, so a 16 KiB string is one step, not one per byte (a full
# list body is split in about 20 ms).
_STRUCTURE = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{},]', re.DOTALL)


@dataclass(frozen=True)
class ScoreRequest:
    applications: list[LoanApplicationSubmitted]
    is_list: bool


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _JSON_MEDIA_TYPE:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json")


async def read_bounded(
    request: Request, limit: int = MAX_BODY_BYTES, timeout_s: float = DEFAULT_BODY_TIMEOUT_S
) -> bytes:
    """Refuse on the declared length before reading, and on the bytes actually received, so a
    chunked upload (no Content-Length) or a lying header cannot make us buffer more; and refuse
    a body that has not arrived whole within `timeout_s` (408), so a slow upload holds a
    connection for a bounded time only."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_bounded(request, limit)
    except TimeoutError:
        raise ApiError(
            408, "body_timeout", f"The body did not arrive within {timeout_s:g} s"
        ) from None


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "invalid_request", "Content-Length is not a byte count")
        if int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "The body ended early") from None
    return bytes(body)


def parse_score_request(raw: bytes) -> ScoreRequest:
    """A JSON array is a list of applications; anything else is one application."""
    if raw.lstrip()[:1] != b"[":
        return ScoreRequest([_decode(raw)], is_list=False)
    try:
        # NaN is let through here so that each element gets the decoder's own verdict on it.
        elements = from_json(raw, allow_inf_nan=True)
    except ValueError:
        raise ApiError(400, "invalid_json", "The body is not valid JSON") from None
    if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_APPLICATIONS:
        raise ApiError(
            422,
            "schema_violation",
            f"(root): a list must hold 1 to {MAX_APPLICATIONS} applications",
            ("(root)",),
        )
    spans = array_elements(raw)
    if len(spans) != len(elements):  # cannot happen for a JSON array; never score on a guess
        raise ApiError(400, "invalid_json", "The body is not valid JSON")
    return ScoreRequest(_decode_each(spans), is_list=True)


def array_elements(raw: bytes) -> list[bytes]:
    """The bytes of each element of the JSON array `raw`, as sent, without the whitespace
    around them: what the stream would receive as record values. `raw` must be valid JSON."""
    elements: list[bytes] = []
    depth = 0
    start = 0
    for match in _STRUCTURE.finditer(raw):
        byte = match.group()[:1]
        if byte == b'"':
            continue
        if byte in (b"[", b"{"):
            depth += 1
            if depth == 1:
                start = match.end()
        elif byte in (b"]", b"}"):
            if depth == 1 and (elements or raw[start : match.start()].strip()):
                elements.append(raw[start : match.start()].strip())
            depth -= 1
        elif depth == 1:  # a comma between two elements
            elements.append(raw[start : match.start()].strip())
            start = match.end()
    return elements


def _decode(raw: bytes) -> LoanApplicationSubmitted:
    try:
        return decode_application(raw)
    except OversizeError:
        raise _too_large(MAX_EVENT_BYTES, "An application") from None
    except InvalidJsonError as error:
        raise ApiError(400, "invalid_json", error.message) from None
    except EventDecodeError as error:
        raise ApiError(422, error.reason.value, error.message, error.fields) from None


def _decode_each(elements: list[bytes]) -> list[LoanApplicationSubmitted]:
    applications: list[LoanApplicationSubmitted] = []
    failures: list[tuple[int, EventDecodeError]] = []
    for index, element in enumerate(elements):
        try:
            applications.append(decode_application(element))
        except EventDecodeError as error:
            failures.append((index, error))
    if not failures:
        return applications
    oversize = [index for index, error in failures if isinstance(error, OversizeError)]
    if oversize:
        raise _too_large(MAX_EVENT_BYTES, f"Application [{oversize[0]}]")
    # Whole-request semantics: one invalid element refuses the list, so a client never has to
    # reconcile which half of its request was scored.
    first = failures[0][1]
    reason = first.reason.value if all(e.reason == first.reason for _, e in failures) else None
    parts = [f"[{index}]: {error.message}" for index, error in failures]
    if len(parts) > _MAX_ELEMENT_ERRORS_IN_MESSAGE:
        extra = len(parts) - _MAX_ELEMENT_ERRORS_IN_MESSAGE
        parts = [*parts[:_MAX_ELEMENT_ERRORS_IN_MESSAGE], f"and {extra} more invalid"]
    fields = tuple(_in_element(index, field) for index, error in failures for field in error.fields)
    # Not JSON (a NaN element) is a 400, as for a single application.
    status = 400 if reason == DeadLetterReason.INVALID_JSON else 422
    raise ApiError(status, reason or "schema_violation", "; ".join(parts), fields)


def _in_element(index: int, field: str) -> str:
    return f"[{index}]" if field == "(root)" else f"[{index}].{field}"


def _too_large(limit: int, what: str = "The body") -> ApiError:
    return ApiError(413, "oversize", f"{what} is larger than the limit of {limit} bytes")
