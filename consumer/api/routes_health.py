"""Probes and metrics: what Kubernetes and Prometheus call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumer.api.state import StateDep

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness: the process serves requests and its Kafka loop makes progress",
    responses={
        200: {"content": {"application/json": {}}},
        503: {
            "description": "The Kafka loop has stalled; restart the process",
            "content": {"application/json": {}},
        },
    },
)
def healthz(state: StateDep) -> JSONResponse:
    stalled_for = state.liveness.stalled_for()
    if stalled_for is not None:
        return JSONResponse(
            {"status": "stalled", "stalled_for_s": round(stalled_for, 1)}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness: model loaded, broker reachable, assignment healthy",
    responses={
        200: {"content": {"application/json": {}}},
        503: {"description": "Not ready; the body says why", "content": {"application/json": {}}},
    },
)
def readyz(state: StateDep) -> JSONResponse:
    snapshot = state.readiness.snapshot()
    body: dict[str, Any] = {
        "ready": snapshot.ready,
        "reasons": snapshot.reasons(),
        "model_loaded": snapshot.model_loaded,
        "broker_reachable": snapshot.broker_reachable,
        "assignment": snapshot.assignment,
        "assigned_partitions": snapshot.assigned_partitions,
        "last_error": snapshot.last_error,
    }
    return JSONResponse(body, status_code=200 if snapshot.ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus exposition",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
)
def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
