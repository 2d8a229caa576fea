"""Errors as RFC 9457 problem details (application/problem+json).

Every error the gateway returns goes through here: its own (auth, rate limit, unknown route),
FastAPI's request validation, and the status codes of the services it calls, with the field
violations a service attached (google.rpc.BadRequest) surfaced as `errors`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit import context
from servicekit.errors import retry_after_from_trailers, violations_from_trailers

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:mall:problem:"
log = logging.getLogger("gateway")
MAX_INSTANCE = 256  # a problem names the request's path, never echoes a whole over-long one

# The service status codes the gateway expects, and what each means to an HTTP client.
GRPC_TO_HTTP: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid-argument"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed-precondition"),
    grpc.StatusCode.ABORTED: (409, "aborted"),  # a stale version: read again and retry
    grpc.StatusCode.RESOURCE_EXHAUSTED: (409, "resource-exhausted"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission-denied"),
    grpc.StatusCode.UNAVAILABLE: (503, "service-unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "service-unavailable"),
}


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the input, e.g. skus[2].price_fen")
    rule: str = Field(description="machine-readable rule, e.g. positive, required, unique")
    message: str


class ProblemBody(BaseModel):
    """The body of every error (RFC 9457), for the OpenAPI document."""
    type: str = Field(examples=["urn:mall:problem:invalid-argument"])
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[FieldError] = []


def _documented(description: str) -> dict:
    return {"description": description, "model": ProblemBody,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}}}


# Added to every API route's OpenAPI responses.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Invalid input; `errors` names the fields"),
    401: _documented("Missing, invalid or expired access token"),
    403: _documented("The token's account kind or roles do not allow this route"),
    404: _documented("Not found"),
    409: _documented("Conflicts with the current state (exists, state machine, stock or quota)"),
    503: _documented("A service the route needs is unavailable (Retry-After)"),
}


@dataclass
class Problem(Exception):
    """Raise anywhere in a request to answer with a problem body."""
    status: int
    slug: str
    detail: str = ""
    errors: list[dict] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    title: str = ""

    def body(self, instance: str, request_id: str) -> dict:
        body = {
            "type": TYPE_BASE + self.slug,
            "title": self.title or HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "instance": instance if len(instance) <= MAX_INSTANCE else instance[:MAX_INSTANCE] + "…",
            "request_id": request_id,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "") or context.current().request_id
    headers = dict(problem.headers)
    if request_id:
        headers.setdefault("X-Request-Id", request_id)
    return JSONResponse(problem.body(request.url.path, request_id), status_code=problem.status,
                        headers=headers, media_type=MEDIA_TYPE)


def from_rpc_error(err: grpc.aio.AioRpcError) -> Problem:
    """The problem for a failed service call; unexpected codes are the gateway's 502."""
    status, slug = GRPC_TO_HTTP.get(err.code(), (502, "upstream-error"))
    if status == 502:
        log.warning("a service answered %s: %s", err.code().name, err.details())
    errors = [{"field": v.field, "rule": v.rule, "message": v.description}
              for v in violations_from_trailers(err.trailing_metadata())]
    if status >= 500:
        # Internal details of a failing service are not the client's business.
        detail = "a service the request needs did not answer; try again shortly" \
            if status == 503 else "a service failed to handle the request"
    else:
        detail = err.details() or ""
    headers = {"Retry-After": "1"} if status == 503 else {}
    retry_after = retry_after_from_trailers(err.trailing_metadata())
    if retry_after is not None:  # e.g. an order another request is still placing
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Problem(status, slug, detail, errors, headers)


def _field_of(loc: tuple) -> str:
    """('body', 'skus', 2, 'price_fen') -> 'skus[2].price_fen'; ('query', 'page_size') -> 'page_size'."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def from_validation_error(err: RequestValidationError) -> Problem:
    errors = [{"field": _field_of(tuple(e.get("loc", ()))), "rule": e.get("type", "invalid"),
               "message": e.get("msg", "")} for e in err.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem(400, "invalid-argument", f"the request has invalid fields: {summary}", errors)


def install(app: FastAPI) -> None:
    """Routes every error of `app` through a problem body."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(exc, request)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(request: Request, exc: grpc.aio.AioRpcError):
        return problem_response(from_rpc_error(exc), request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return problem_response(from_validation_error(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        return problem_response(Problem(exc.status_code, slug, detail,
                                        headers=dict(exc.headers or {})), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "internal-error",
                                        "the gateway failed to handle the request"),
                                request)
