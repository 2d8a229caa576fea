"""Tokens and roles are checked at the edge, before any service is called."""
from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from gateway import auth, problems
from gateway.app import create_app
from gateway.middleware import RequestContextMiddleware
from servicekit import context, roles
from servicekit.grpc_client import outgoing_metadata

from .helpers import bearer, token


@pytest.fixture
def probe():
    """A tiny app whose routes report what the gateway's auth let through and what the services
    would see in the call context."""
    app = FastAPI()
    problems.install(app)
    app.add_middleware(RequestContextMiddleware)

    def seen(principal: auth.Principal) -> dict:
        ctx = context.current()
        return {"user_id": principal.user_id, "kind": principal.kind,
                "metadata": dict(ctx.metadata()),
                "outgoing": dict(outgoing_metadata(()))}

    @app.get("/customer")
    async def customer_route(p: auth.Principal = Depends(auth.customer)):
        return seen(p)

    @app.get("/catalog-staff")
    async def staff_route(p: auth.Principal = Depends(auth.staff(roles.ADMIN, roles.OPERATOR))):
        return seen(p)

    with TestClient(app) as client:
        yield client


def test_customer_token_opens_customer_route_and_identity_goes_on(probe):
    response = probe.get("/customer", headers={**bearer(token("m-42")), "X-Request-Id": "r-1"})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"x-request-id": "r-1", "x-mall-user-id": "m-42"}


def test_trace_context_goes_on_to_the_services(probe):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = probe.get("/customer", headers={
        **bearer(token("m-42")), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    outgoing = response.json()["outgoing"]
    assert outgoing["traceparent"].split("-")[1] == trace_id
    assert outgoing["x-mall-user-id"] == "m-42"


def test_staff_roles_travel_as_metadata(probe):
    response = probe.get("/catalog-staff",
                         headers=bearer(token("s-1", kind="staff", roles=("operator", "analyst"))))
    assert response.status_code == 200
    assert response.json()["metadata"]["x-mall-roles"] == "operator,analyst"
    assert response.json()["metadata"]["x-mall-user-id"] == "s-1"


@pytest.mark.parametrize("headers,detail", [
    ({}, "needs a bearer access token"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "needs a bearer access token"),
    (bearer("not-a-jwt"), "not valid"),
    (bearer(token(ttl=-10)), "expired"),
    (bearer(token(secret="someone-elses-secret-0123456789abcdef")), "not valid"),
    (bearer(token(type_="refresh")), "access token is needed"),
    (bearer(token(kind="robot")), "no known kind"),
])
def test_bad_tokens_are_401_problems(probe, headers, detail):
    response = probe.get("/customer", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert detail in response.json()["detail"]


def test_token_signed_with_another_algorithm_is_refused(probe):
    import jwt

    from .helpers import session_secret
    forged = jwt.encode({"sub": "m-1", "kind": "customer", "type": "access", "iat": 1,
                         "exp": 2**33}, session_secret() * 2, algorithm="HS512")
    assert probe.get("/customer", headers=bearer(forged)).status_code == 401


def test_token_without_expiry_is_refused(probe):
    import jwt

    from .helpers import session_secret
    eternal = jwt.encode({"sub": "m-1", "kind": "customer", "type": "access", "iat": 1},
                         session_secret(), algorithm="HS256")
    assert probe.get("/customer", headers=bearer(eternal)).status_code == 401


def test_staff_token_on_customer_route_is_403(probe):
    response = probe.get("/customer", headers=bearer(token(kind="staff", roles=("admin",))))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:mall:problem:permission-denied"


@pytest.mark.parametrize("kind,roles", [
    ("staff", ("analyst",)), ("staff", ("cs_agent", "warehouse")), ("staff", ()),
    ("customer", ("admin",)),  # a customer token never opens staff routes, whatever it claims
])
def test_wrong_role_is_403(probe, kind, roles):
    response = probe.get("/catalog-staff", headers=bearer(token(kind=kind, roles=roles)))
    assert response.status_code == 403


@pytest.mark.parametrize("path,roles,allowed", [
    ("/v1/admin/staff", ("operator",), False),
    ("/v1/admin/staff", ("analyst",), False),
    ("/v1/admin/products", ("analyst",), False),
    ("/v1/admin/products", ("cs_agent",), False),
    ("/v1/admin/analytics/event-counts", ("operator",), False),
    ("/v1/admin/staff", ("admin",), True),
    ("/v1/admin/products", ("operator",), True),
    ("/v1/admin/analytics/event-counts", ("analyst",), True),
])
def test_admin_routes_check_their_roles(settings, offline, path, roles, allowed):
    with TestClient(create_app(settings)) as client:
        response = client.get(path, headers=bearer(token(kind="staff", roles=roles)))
    # Allowed calls get as far as the (unreachable) service: 503, not 403.
    assert response.status_code == (503 if allowed else 403)


def test_dev_secret_is_read_from_var_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MALL_JWT_SECRET")
    monkeypatch.setenv("MALL_VAR_DIR", str(tmp_path))
    auth.reset_secret_cache()
    try:
        with pytest.raises(problems.Problem) as missing:
            auth.verify_access_token(token(secret="x" * 32))
        assert missing.value.status == 503
        (tmp_path / "jwt_secret").write_text("dev-secret-written-by-member-0123456789\n")
        principal = auth.verify_access_token(token(secret="dev-secret-written-by-member-0123456789"))
        assert principal.user_id == "m-1" and principal.kind == "customer"
    finally:
        auth.reset_secret_cache()
