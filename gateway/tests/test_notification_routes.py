"""The shopper's notification inbox through the gateway against the real support server: only
their own notices, newest first with the unread count, marked read; the inbox needs a shopper."""
from __future__ import annotations

import uuid

import pytest

from services.support import inbox

from .helpers import bearer, token


@pytest.fixture
def gateway(gateway_with):
    return gateway_with("support")


def test_a_shopper_reads_and_marks_only_their_own_notices(gateway, runtime_for):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    with runtime_for("support").transaction() as session:
        for n in range(2):
            inbox.notify(session, member_id=alice, kind="order_paid", order_id=f"o-{n}",
                         title="支付成功", body=f"第{n}单")
        inbox.notify(session, member_id=bob, kind="order_paid", order_id="o-bob",
                     title="支付成功", body="bob")
    mine = gateway.get("/v1/me/notifications", headers=bearer(token(sub=alice)))
    assert mine.status_code == 200, mine.text
    assert [n["order_id"] for n in mine.json()["notifications"]] == ["o-1", "o-0"]
    assert mine.json()["notifications"][0]["kind"] == "ORDER_PAID"
    assert mine.json()["unread_count"] == 2
    first_id = mine.json()["notifications"][0]["id"]

    refused = gateway.post("/v1/me/notifications/read", json={"ids": [first_id]},
                           headers=bearer(token(sub=bob)))
    assert refused.status_code == 404, refused.text  # not bob's: like one that does not exist
    marked = gateway.post("/v1/me/notifications/read", json={"ids": [first_id]},
                          headers=bearer(token(sub=alice)))
    assert marked.status_code == 200, marked.text
    assert (marked.json()["marked_count"], marked.json()["unread_count"]) == (1, 1)
    unread = gateway.get("/v1/me/notifications", params={"unread_only": "true"},
                         headers=bearer(token(sub=alice))).json()
    assert [n["order_id"] for n in unread["notifications"]] == ["o-0"]


def test_the_inbox_is_a_shoppers(gateway):
    assert gateway.get("/v1/me/notifications").status_code == 401
    staff = bearer(token(kind="staff", roles=("admin",)))
    assert gateway.get("/v1/me/notifications", headers=staff).status_code == 403
