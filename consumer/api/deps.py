"""The caller of a route as typed dependencies: `PrincipalDep` (any valid credential, within its
rate limit) and `ScorerDep` (one holding the `score` scope).

Dependencies run before the route reads its body, so an unauthenticated or over-limit caller is
refused before it can upload anything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from consumer.api.auth import Principal, forbidden
from consumer.api.problems import ApiError
from consumer.api.rate_limit import retry_after_header
from consumer.api.state import StateDep


def authenticated(request: Request, state: StateDep) -> Principal:
    """The caller, after authentication and its rate limit (429 with Retry-After)."""
    principal = state.auth.authenticate(request.headers.get("authorization"))
    request.state.client = principal.client
    wait_s = state.rate_limiter.try_take(principal.client)
    if wait_s is not None:
        raise ApiError(
            429,
            "rate_limited",
            "Too many requests from this client; retry after the Retry-After delay",
            headers={"Retry-After": retry_after_header(wait_s)},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticated)]


def scorer(principal: PrincipalDep) -> Principal:
    if "score" not in principal.scopes:
        raise forbidden()
    return principal


ScorerDep = Annotated[Principal, Depends(scorer)]
