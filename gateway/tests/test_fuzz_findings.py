"""What the OpenAPI fuzzing run (tests/e2e/test_fuzz_openapi.py) found answering 5xx, each
refused here as a 4xx problem before any service is called."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app

from .helpers import bearer, token

ADMIN = bearer(token(sub="staff-1", kind="staff", roles=("admin",)))


@pytest.fixture
def gateway(settings, offline):
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_coupon_template_with_both_a_window_and_days_after_claim_is_400(gateway):
    # both members of the spec's `validity` oneof: the body's model took it, the proto cannot
    answer = gateway.post("/v1/admin/coupon-templates", headers=ADMIN, json={
        "name": "满减", "kind": "NO_THRESHOLD", "amount_fen": 100, "total_quantity": 10,
        "per_member_limit": 1, "scope": "ALL", "valid_days_after_claim": 7,
        "window": {"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-02-01T00:00:00Z"}})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "validity" in answer.json()["detail"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/admin/loyalty-settings", {"earn_unit_fen": 2**53, "earn_points_per_unit": 1}, "earn_unit_fen"),
    ("/v1/admin/orders/o-1/refunds", {"refund_request_id": "r-1", "amount_fen": 2**60}, "amount_fen"),
])
def test_amounts_a_json_client_cannot_read_exactly_are_400(gateway, path, body, field):
    # protobuf's JSON prints an int64 beyond 2^53 as a string: the fuzzing run saw
    # "earn_unit_fen": "121645100408832001" answered where the document promises an integer
    method = gateway.put if path.endswith("settings") else gateway.post
    answer = method(path, headers=ADMIN, json=body)
    assert answer.status_code == 400, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
