"""A request id per HTTP request: the caller's `X-Request-ID` if it is a plain token, else a new
one; echoed in the response and written in the audit line, so a client and an auditor can name
the same call. A caller-chosen id is bounded and restricted to a plain alphabet, so nothing a
client sends can forge or break a log line through it."""

from __future__ import annotations

import re
import uuid
from typing import Final

from starlette.requests import Request

HEADER: Final = "X-Request-ID"
_PLAIN = re.compile(r"[A-Za-z0-9._-]{8,64}")


def choose_request_id(sent: str | None) -> str:
    if sent is not None and _PLAIN.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def request_id_of(request: Request) -> str:
    request_id = getattr(request.state, "request_id", None)
    return request_id if isinstance(request_id, str) else choose_request_id(None)
