"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from ..problems import Problem
from ..services import clients as service_clients

router = APIRouter(tags=["operations"])


class Alive(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    services: dict[str, str] = Field(description="each service's gRPC health status, e.g. SERVING")


@router.get("/healthz", summary="The process is alive", response_model=Alive)
async def healthz() -> Response:
    # A Response as it is, like every JSON answer: the model documents, nothing re-validates.
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="Every service the gateway needs answers its health check",
            responses={503: {"description": "A service is not SERVING (named in the body)"}},
            response_model=Ready)
async def readyz(request: Request) -> Response:
    clients = service_clients(request)
    names = request.app.state.ready_services
    statuses = await asyncio.gather(*(clients.health(name) for name in names))
    services = dict(zip(names, statuses, strict=True))
    not_ready = [name for name, status in services.items() if status != "SERVING"]
    if not_ready:
        problem = Problem(503, "not-ready", "not serving: " + ", ".join(
            f"{name} ({services[name]})" for name in not_ready), headers={"Retry-After": "1"})
        body = problem.body(request.url.path, request.state.request_id)
        body["services"] = services
        return JSONResponse(body, status_code=503, media_type="application/problem+json",
                            headers=problem.headers)
    return JSONResponse({"status": "ready", "services": services})


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
