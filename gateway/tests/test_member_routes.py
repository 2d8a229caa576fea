"""Sign-in, profiles and staff management through the gateway against the real member server."""
from __future__ import annotations

import uuid

import grpc
import pytest
from mall.member.v1 import member_pb2, member_pb2_grpc

from .helpers import bearer, token


@pytest.fixture
def gateway(gateway_with):
    return gateway_with("member")


@pytest.fixture
def admin_password(gateway, grpc_target_for):
    """Bootstraps the first admin as `make run`'s seed does (loopback, admin metadata)."""
    with grpc.insecure_channel(grpc_target_for("member")) as channel:
        made = member_pb2_grpc.StaffServiceStub(channel).EnsureAdmin(
            member_pb2.EnsureAdminRequest(),
            metadata=[("x-mall-user-id", "seed"), ("x-mall-roles", "admin")])
    return made.admin.username, made.generated_password


def staff_login(gateway, username, password) -> dict:
    response = gateway.post("/v1/admin/auth/login", json={"username": username,
                                                          "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def test_staff_signs_in_and_sees_their_profile(gateway, admin_password):
    body = staff_login(gateway, *admin_password)
    assert body["tokens"]["token_type"] == "Bearer"
    assert body["staff"]["roles"] == ["admin"]
    me = gateway.get("/v1/admin/me", headers=bearer(body["tokens"]["access_token"]))
    assert me.status_code == 200
    assert me.json()["staff"]["username"] == admin_password[0]
    # A staff token does not open the shopper's own /v1/me.
    assert gateway.get("/v1/me", headers=bearer(body["tokens"]["access_token"])).status_code == 403


def test_wrong_password_is_a_401_problem(gateway, admin_password):
    response = gateway.post("/v1/admin/auth/login",
                            json={"username": admin_password[0], "password": "not-the-password"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:mall:problem:unauthenticated"


def test_shopper_signs_in_with_wechat_code_and_refreshes(gateway):
    code = f"shopper{uuid.uuid4().hex[:8]}~1"
    login = gateway.post("/v1/auth/wechat-login", json={"code": code})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["is_new"] is True
    assert isinstance(body["tokens"]["access_expires_in"], int)  # int64 as a JSON number
    me = gateway.get("/v1/me", headers=bearer(body["tokens"]["access_token"]))
    assert me.status_code == 200
    assert me.json()["customer"]["member_id"] == body["member_id"]

    refreshed = gateway.post("/v1/auth/refresh",
                             json={"refresh_token": body["tokens"]["refresh_token"]})
    assert refreshed.status_code == 200
    assert refreshed.json()["tokens"]["access_token"] != body["tokens"]["access_token"]
    # Rotation: the spent refresh token is refused.
    again = gateway.post("/v1/auth/refresh", json={"refresh_token": body["tokens"]["refresh_token"]})
    assert again.status_code == 401
    # A code works once.
    reused = gateway.post("/v1/auth/wechat-login", json={"code": code})
    assert reused.status_code == 401
    assert "already used" in reused.json()["detail"]


def test_admin_manages_staff_and_bad_input_names_the_fields(gateway, admin_password):
    admin = bearer(staff_login(gateway, *admin_password)["tokens"]["access_token"])
    bad = gateway.post("/v1/admin/staff", headers=admin,
                       json={"username": "9lives", "password": "short", "roles": ["wizard"]})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"username", "password"} <= fields
    assert any(f.startswith("roles") for f in fields)
    assert all(e["message"] and e["rule"] for e in bad.json()["errors"])

    made = gateway.post("/v1/admin/staff", headers=admin,
                        json={"username": "olivia", "password": "a-long-password-1",
                              "roles": ["operator"], "display_name": "Olivia"})
    assert made.status_code == 201, made.text
    staff_id = made.json()["staff_id"]
    duplicate = gateway.post("/v1/admin/staff", headers=admin,
                             json={"username": "olivia", "password": "a-long-password-1",
                                   "roles": ["operator"]})
    assert duplicate.status_code == 409

    listed = gateway.get("/v1/admin/staff", headers=admin).json()
    assert [s["username"] for s in listed["staff"]] == sorted([admin_password[0], "olivia"])

    operator = bearer(staff_login(gateway, "olivia", "a-long-password-1")["tokens"]["access_token"])
    assert gateway.get("/v1/admin/staff", headers=operator).status_code == 403

    disabled = gateway.patch(f"/v1/admin/staff/{staff_id}", headers=admin, json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = gateway.post("/v1/admin/auth/login",
                           json={"username": "olivia", "password": "a-long-password-1"})
    assert refused.status_code == 401
    missing = gateway.patch(f"/v1/admin/staff/{uuid.uuid4()}", headers=admin,
                            json={"display_name": "Nobody"})
    assert missing.status_code == 404


def test_a_valid_token_of_a_deleted_account_is_refused_by_member(gateway):
    # The gateway only checks the signature; member knows the account is gone (or never was).
    response = gateway.get("/v1/me", headers=bearer(token(sub=str(uuid.uuid4()))))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("sign in first")


def test_readyz_when_member_serves(gateway, wait_until):
    wait_until(lambda: gateway.get("/readyz").status_code == 200, timeout=10)
    assert gateway.get("/readyz").json()["services"] == {"member": "SERVING"}


def test_staff_changes_their_password(gateway, admin_password):
    username, password = admin_password
    admin = bearer(staff_login(gateway, username, password)["tokens"]["access_token"])
    wrong = gateway.post("/v1/admin/me/password", headers=admin,
                         json={"current_password": "nope-nope-nope", "new_password": "x" * 12})
    assert wrong.status_code == 401
    short = gateway.post("/v1/admin/me/password", headers=admin,
                         json={"current_password": password, "new_password": "short"})
    assert short.status_code == 400
    assert "new_password" in {e["field"] for e in short.json()["errors"]}
    changed = gateway.post("/v1/admin/me/password", headers=admin,
                           json={"current_password": password, "new_password": "a-new-password-2"})
    assert changed.status_code == 200 and changed.json()["tokens"]["access_token"]
    assert staff_login(gateway, username, "a-new-password-2")["staff"]["username"] == username
    customer = bearer(token(sub=str(uuid.uuid4())))
    assert gateway.post("/v1/admin/me/password", headers=customer,
                        json={"current_password": "a", "new_password": "b"}).status_code == 403
