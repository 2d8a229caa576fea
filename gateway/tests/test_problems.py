"""Errors come back as RFC 9457 problem bodies, with field names, whatever raised them."""
from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.app import create_app
from gateway.problems import from_rpc_error

from .helpers import bearer, token


def rpc_error(code: grpc.StatusCode, details: str, violations=()) -> grpc.aio.AioRpcError:
    trailers: tuple[tuple[str, bytes], ...] = ()
    if violations:
        bad = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, reason=r, description=d)
            for f, r, d in violations])
        detail = any_pb2.Any()
        detail.Pack(bad)
        status = status_pb2.Status(code=code.value[0], message=details, details=[detail])
        trailers = (("grpc-status-details-bin", status.SerializeToString()),)
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailers), details)


@pytest.mark.parametrize("code,status", [
    (grpc.StatusCode.INVALID_ARGUMENT, 400),
    (grpc.StatusCode.NOT_FOUND, 404),
    (grpc.StatusCode.ALREADY_EXISTS, 409),
    (grpc.StatusCode.FAILED_PRECONDITION, 409),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 409),
    (grpc.StatusCode.UNAUTHENTICATED, 401),
    (grpc.StatusCode.PERMISSION_DENIED, 403),
    (grpc.StatusCode.UNAVAILABLE, 503),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 503),
    (grpc.StatusCode.INTERNAL, 502),
])
def test_grpc_codes_map_to_http_statuses(code, status):
    assert from_rpc_error(rpc_error(code, "boom")).status == status


def test_field_violations_become_errors_with_field_names():
    problem = from_rpc_error(rpc_error(
        grpc.StatusCode.INVALID_ARGUMENT, "bad skus",
        [("skus[2].price_fen", "positive", "must be more than 0 fen"),
         ("title", "required", "a product needs a title")]))
    assert problem.status == 400
    assert problem.errors == [
        {"field": "skus[2].price_fen", "rule": "positive", "message": "must be more than 0 fen"},
        {"field": "title", "rule": "required", "message": "a product needs a title"}]
    assert problem.detail == "bad skus"


def test_a_refusal_asking_for_a_later_retry_carries_retry_after():
    """A service's RetryInfo (e.g. an order another request is still placing) is Retry-After."""
    from servicekit.errors import FailedPrecondition, FieldViolation, to_rpc_status

    refusal = to_rpc_status(FailedPrecondition(
        "order 1 is still being placed", [FieldViolation("idempotency-key", "in_progress", "soon")],
        retry_after_seconds=4))
    err = grpc.aio.AioRpcError(
        grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(),
        grpc.aio.Metadata(("grpc-status-details-bin", refusal.SerializeToString())), refusal.message)
    problem = from_rpc_error(err)
    assert (problem.status, problem.headers["Retry-After"]) == (409, "4")
    assert problem.errors == [{"field": "idempotency-key", "rule": "in_progress", "message": "soon"}]
    assert "Retry-After" not in from_rpc_error(rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "no")).headers


def test_server_side_failures_hide_their_details():
    problem = from_rpc_error(rpc_error(grpc.StatusCode.INTERNAL, "psycopg2 exploded at line 3"))
    assert "psycopg2" not in problem.detail


def test_unknown_route_is_a_404_problem(settings, offline):
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/nowhere", headers={"X-Request-Id": "req-abc"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["type"].startswith("urn:mall:problem:")
    assert body["instance"] == "/v1/nowhere"
    assert body["request_id"] == "req-abc"
    assert response.headers["x-request-id"] == "req-abc"


def test_validation_errors_name_the_fields(settings, offline):
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/admin/staff", json={"username": "", "roles": []},
                               headers=bearer(token(kind="staff", roles=("admin",))))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["rule"] for e in response.json()["errors"]}
    assert fields == {"username": "string_too_short", "password": "missing",
                      "roles": "too_short"}


def test_query_validation_names_the_parameter(settings, offline):
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/admin/staff?page_size=1000",
                              headers=bearer(token(kind="staff", roles=("admin",))))
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["page_size"]


def test_unreachable_service_is_a_503_problem(settings, offline):
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/auth/wechat-login", json={"code": "wx-code"})
    assert response.status_code == 503
    body = response.json()
    assert body["type"] == "urn:mall:problem:service-unavailable"
    assert response.headers["retry-after"] == "1"


def test_request_id_is_made_when_missing_or_unsafe(settings, offline):
    with TestClient(create_app(settings)) as client:
        made = client.get("/healthz")
        unsafe = client.get("/healthz", headers={"X-Request-Id": "a b\tc" * 50})
    assert len(made.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "a b\tc" * 50


def test_unexpected_errors_are_500_problems_with_the_request_id():
    from fastapi import FastAPI

    from gateway import problems
    from gateway.middleware import RequestContextMiddleware

    app = FastAPI()
    problems.install(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "req-500"
    assert response.headers["x-request-id"] == "req-500"
    assert "secret internals" not in response.text


def test_wrong_method_is_a_405_problem(settings, offline):
    with TestClient(create_app(settings)) as client:
        response = client.delete("/v1/products")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert "GET" in response.headers["allow"]
