"""The ASGI application: FastAPI for its typed routes and the OpenAPI document it generates.

`create_app` builds the whole API on one port, or (`part="api"` / `part="ops"`) the scoring routes
and the probes with /metrics apart, for `LOAN_SCORER_HTTP_OPS_PORT`: the probes and /metrics
stay unauthenticated, so a NetworkPolicy can then open the API port to its clients only and the
ops port to the kubelet and Prometheus only.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import FastAPI, Request, Response
from starlette.routing import Match

from consumer.api import routes_health, routes_model, routes_score
from consumer.api.openapi import install_openapi
from consumer.api.problems import ApiError, problem_response
from consumer.api.request_id import HEADER as REQUEST_ID_HEADER
from consumer.api.request_id import choose_request_id
from consumer.api.state import ApiState

AppPart = Literal["all", "api", "ops"]


def create_app(state: ApiState, *, part: AppPart = "all", docs: bool = True) -> FastAPI:
    app = FastAPI(
        title="loan-scorer",
        summary="Real-time credit scoring: probes, metrics, on-demand scores, the model card.",
        version="1",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.api = state
    if part in ("all", "ops"):
        # Readiness as of each scrape, derived rather than copied, so it can never be stale.
        state.metrics.ready.set_function(lambda: 1.0 if state.readiness.snapshot().ready else 0.0)
        app.include_router(routes_health.router)
    if part in ("all", "api"):
        app.include_router(routes_score.router)
        app.include_router(routes_model.router)
    app.add_exception_handler(ApiError, problem_response)
    install_openapi(app)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        request_id = choose_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.state.request_id = request_id
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        route = _route_template(app, request)
        state.metrics.http_requests.labels(route, str(response.status_code)).inc()
        state.metrics.http_request_duration.labels(route).observe(time.perf_counter() - started)
        return response

    return app


def _route_template(app: FastAPI, request: Request) -> str:
    """The matched route's path template, never the raw path: label values must stay bounded.

    FastAPI's routes record themselves in the scope on a match (its included routers are nested
    groups, so a scan of `app.router.routes` would not find them); Starlette's own routes, such
    as /docs and /openapi.json, do not, and are found by matching the top-level routes.
    """
    route = request.scope.get("route")
    if route is None:
        route = next(
            (r for r in app.router.routes if r.matches(request.scope)[0] is Match.FULL), None
        )
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else "unmatched"
