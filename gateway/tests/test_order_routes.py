"""The shopper's cart and orders through the gateway, against the real order server."""
from __future__ import annotations

from services.order import products
from services.order.tests.helpers import catalog_product
from services.order.tests.orders_helpers import place

from .helpers import bearer, token

ALICE = bearer(token(sub="m-1", kind="customer"))
BOB = bearer(token(sub="m-2", kind="customer"))
STAFF = bearer(token(sub="s-1", kind="staff", roles=("admin",)))


def test_the_cart_with_a_retried_add(gateway_with, runtime_for):
    gateway = gateway_with("order")
    with runtime_for("order").transaction() as session:
        products.apply_product(session, products.snapshot_from_event(catalog_product()))
    keyed = {**ALICE, "Idempotency-Key": "tap-1"}
    for _ in range(2):
        added = gateway.post("/v1/cart/items", json={"sku_id": "sku-75b-black", "quantity": 2},
                             headers=keyed)
        assert added.status_code == 200, added.text
    cart = gateway.get("/v1/cart", headers=ALICE).json()
    assert cart["subtotal_fen"] == 39800 and cart["lines"][0]["quantity"] == 2
    assert cart["lines"][0]["stock_level"] == "unknown"
    # Only order runs here: the cart still answers, saying why it has no quote.
    assert cart["quote"] is None and cart["quote_unavailable"]
    bad = gateway.post("/v1/cart/items", json={"sku_id": "sku-nope", "quantity": 1}, headers=ALICE)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "sku_id"
    assert gateway.put("/v1/cart/items/sku-75b-black", json={"quantity": 5},
                       headers=ALICE).json()["lines"][0]["quantity"] == 5
    assert gateway.delete("/v1/cart/items/sku-75b-black", headers=ALICE).json()["lines"] == []
    assert gateway.get("/v1/cart", headers=STAFF).status_code == 403
    assert gateway.get("/v1/cart").status_code == 401


def test_my_orders_tabs_detail_and_cancel(gateway_with, runtime_for):
    gateway = gateway_with("order")
    order_id = place(runtime_for("order"))
    listed = gateway.get("/v1/orders", params={"tab": "to_pay"}, headers=ALICE).json()
    assert [o["order_id"] for o in listed["orders"]] == [order_id]
    assert gateway.get("/v1/orders", params={"tab": "to_ship"}, headers=ALICE).json()["orders"] == []
    assert gateway.get("/v1/orders", params={"tab": "nope"}, headers=ALICE).status_code == 400
    detail = gateway.get(f"/v1/orders/{order_id}", headers=ALICE).json()
    assert detail["payable_fen"] == 43415 and detail["shipping_address"]["province"] == "广东省"
    assert gateway.get(f"/v1/orders/{order_id}", headers=BOB).status_code == 404
    cancelled = gateway.post(f"/v1/orders/{order_id}/cancel", json={"reason": "买错了"}, headers=ALICE)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = gateway.post(f"/v1/orders/{order_id}/confirm-receipt", headers=ALICE)
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


OPERATOR = bearer(token(sub="s-2", kind="staff", roles=("operator",)))


def test_the_order_desk_filters_exports_and_remarks(gateway_with, runtime_for):
    import csv
    import io
    gateway = gateway_with("order")
    ids = [place(runtime_for("order"), member_id=m) for m in ("m-1", "m-1", "m-2")]
    listed = gateway.get("/v1/admin/orders", params={"member_id": "m-1", "page_size": 1},
                         headers=OPERATOR).json()
    assert len(listed["orders"]) == 1 and listed["page"]["next_page_token"]
    bad = gateway.get("/v1/admin/orders", params={"status": "lost"}, headers=OPERATOR)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "filter.statuses"
    assert gateway.get("/v1/admin/orders", headers=ALICE).status_code == 403
    from services.order.models import Order
    with runtime_for("order").transaction() as session:  # as an import would record it
        session.get(Order, ids[1]).import_batch_id = "batch-1"
    by_batch = gateway.get("/v1/admin/orders", params={"import_batch_id": "batch-1"},
                           headers=OPERATOR).json()
    assert [o["order_id"] for o in by_batch["orders"]] == [ids[1]]
    assert by_batch["orders"][0]["import_batch_id"] == "batch-1"
    exported = gateway.get("/v1/admin/orders/export", params={"format": "csv"}, headers=OPERATOR)
    assert exported.status_code == 200 and "orders.csv" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 4
    refused = gateway.get("/v1/admin/orders/export", params={"format": "pdf"}, headers=OPERATOR)
    assert refused.status_code == 400
    added = gateway.post(f"/v1/admin/orders/{ids[2]}/remarks", json={"text": "加急"}, headers=OPERATOR)
    assert added.status_code == 201
    assert gateway.get(f"/v1/admin/orders/{ids[2]}/remarks", headers=OPERATOR).json()["remarks"][0]["text"] == "加急"
    cancelled = gateway.post(f"/v1/admin/orders/{ids[2]}/cancel", json={"reason": "缺货"},
                             headers=OPERATOR)
    assert cancelled.json()["status"] == "cancelled"


def test_early_access_refuses_the_cart_with_a_problem_then_lets_an_invited_member_in(
        gateway_with, runtime_for):
    """VIP 优先购 at the cart through the gateway: 409 naming the rule and when it opens to her."""
    import uuid
    from datetime import datetime, timedelta, timezone

    from mall.events.v1 import catalog_events_pb2 as catalog

    from servicekit.times import rfc3339
    from services.order import early_access

    gateway = gateway_with("order", "member")
    now = datetime.now(timezone.utc)
    product = catalog_product()
    product.early_access.CopyFrom(catalog.CatalogEarlyAccess(
        min_tier_rank=2, tier_name="金卡", opens_at=rfc3339(now - timedelta(hours=1)),
        public_at=rfc3339(now + timedelta(days=1))))
    runtime = runtime_for("order")
    with runtime.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(product))
    login = gateway.post("/v1/auth/wechat-login", json={"code": f"gw{uuid.uuid4().hex[:8]}~1"})
    member_id, me = login.json()["member_id"], bearer(login.json()["tokens"]["access_token"])

    refused = gateway.post("/v1/cart/items", json={"sku_id": "sku-75b-black", "quantity": 1},
                           headers={**me, "Idempotency-Key": "ea-1"})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [("sku_id", "early_access")]
    assert "金卡 and above" in problem["detail"]

    with runtime.transaction() as session:
        early_access.keep_invitations(session, catalog.TrialInvited(
            product_id="p-1", member_ids=[member_id], invited_at=rfc3339(now)))
    added = gateway.post("/v1/cart/items", json={"sku_id": "sku-75b-black", "quantity": 1},
                         headers={**me, "Idempotency-Key": "ea-2"})
    assert added.status_code == 200 and added.json()["lines"][0]["quantity"] == 1
