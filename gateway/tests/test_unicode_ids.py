"""Ids are ASCII digits only (issue 15): "²" (a Unicode digit) and "١" / "٣" (Arabic-Indic) are
not ids. Each was a 502, or worse, read as the ASCII id it resembles. The gateway refuses an id
of the wrong form (400 naming it); the services refuse it too (404), asked directly."""
from __future__ import annotations

import uuid

import grpc
import pytest

from services.support import inbox

from .helpers import bearer, token
from .test_payment_routes import order_standin, pay_with_wechat, wechat_paid, world  # noqa: F401
from .test_promotion_routes import OPERATOR, flash_body, members, shopper, template_body  # noqa: F401

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture(autouse=True)
def promotion_without_catalog(monkeypatch):
    """Made-up SKUs: promotion's check against catalog is off here, but in the test of it."""
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "0")


@pytest.mark.parametrize("bad_id", ["²", "١", "1²"])
def test_promotion_id_routes_refuse_unicode_digits(gateway_with, bad_id):
    gateway = gateway_with("promotion")
    for method, path, field in (("GET", f"/v1/admin/campaigns/{bad_id}", "campaign_id"),
                                ("POST", f"/v1/admin/campaigns/{bad_id}/end", "campaign_id"),
                                ("GET", f"/v1/admin/coupon-templates/{bad_id}", "template_id"),
                                ("POST", f"/v1/admin/coupons/{bad_id}/revoke", "coupon_id")):
        answer = gateway.request(method, path, headers=OPERATOR, json={})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [(field, "format")]
    claimed = gateway.post(f"/v1/coupons/{bad_id}/claim", headers=shopper("m-1"))
    assert claimed.status_code == 400, claimed.text


@pytest.mark.parametrize("bad_id", ["²", "١", "1²", "٣"])
def test_promotion_itself_reads_unicode_digits_as_no_id(grpc_stub_for, bad_id):
    from mall.promotion.v1 import promotion_pb2 as pb
    from mall.promotion.v1 import promotion_pb2_grpc
    promotion = grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)
    staff = (("x-mall-user-id", "staff-1"), ("x-mall-roles", "operator"))
    for call, request in ((promotion.GetCampaign, pb.GetCampaignRequest(id=bad_id)),
                          (promotion.RevokeCoupon, pb.RevokeCouponRequest(coupon_id=bad_id)),
                          (promotion.GetCouponTemplate, pb.GetCouponTemplateRequest(id=bad_id))):
        with pytest.raises(grpc.RpcError) as refused:
            call(request, metadata=staff)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND, refused.value.details()


def test_a_coupon_id_in_arabic_indic_digits_revokes_nothing(gateway_with, members):  # noqa: F811
    gateway = gateway_with("promotion", "member")
    members("m-1")
    template_id = gateway.post("/v1/admin/coupon-templates", headers=OPERATOR,
                               json=template_body(claimable=False)).json()["id"]
    coupon = gateway.post(f"/v1/admin/coupon-templates/{template_id}/issue", headers=OPERATOR,
                          json={"member_ids": ["m-1"]}).json()["coupons"][0]
    lookalike = coupon["id"].translate(ARABIC_INDIC)
    assert lookalike != coupon["id"]
    refused = gateway.post(f"/v1/admin/coupons/{lookalike}/revoke", headers=OPERATOR, json={})
    assert refused.status_code in (400, 404), refused.text
    mine = gateway.get("/v1/me/coupons", headers=shopper("m-1")).json()["coupons"]
    assert [(c["id"], c["status"]) for c in mine] == [(coupon["id"], "available")]
    campaign = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body()).json()
    shown = gateway.get(f"/v1/admin/campaigns/{campaign['id'].translate(ARABIC_INDIC)}",
                        headers=OPERATOR)
    assert shown.status_code in (400, 404), shown.text


@pytest.mark.parametrize("bad_id", ["²", "١"])
def test_marking_a_unicode_digit_notice_read_is_400_naming_it(gateway_with, runtime_for, bad_id):
    gateway = gateway_with("support")
    alice = str(uuid.uuid4())
    with runtime_for("support").transaction() as session:
        inbox.notify(session, member_id=alice, kind="order_paid", order_id="o-1", title="支付成功",
                     body="第1单")
    answer = gateway.post("/v1/me/notifications/read", json={"ids": [bad_id]},
                          headers=bearer(token(sub=alice)))
    assert answer.status_code == 400, answer.text
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("ids[0]", "format")]
    listed = gateway.get("/v1/me/notifications", headers=bearer(token(sub=alice))).json()
    assert listed["unread_count"] == 1


def test_a_wechat_pay_timestamp_in_unicode_digits_is_refused_as_wechat_expects(
        world, grpc_stub_for):  # noqa: F811
    """Through payment's RPC: an HTTP client here cannot send the single byte 0xB2 ("²" in the
    latin-1 a header decodes to) that a raw socket can."""
    from mall.payment.v1 import payment_pb2, payment_pb2_grpc
    gateway, providers = world
    intent = pay_with_wechat(gateway).json()["intent"]
    body, headers = wechat_paid(providers.wechatpay, intent["out_trade_no"])
    payments = grpc_stub_for("payment", payment_pb2_grpc.PaymentServiceStub)
    for bad in ("²", "١٧٠٠٠٠٠٠٠٠", "1" * 40):
        signed = {name.lower(): value for name, value in headers.items()}
        answer = payments.HandleNotification(payment_pb2.HandleNotificationRequest(
            provider="wechatpay", raw_body=body, headers={**signed, "wechatpay-timestamp": bad}))
        assert (answer.http_status, answer.outcome) == (401, "refused"), answer
    mine = gateway.get("/v1/orders/o-1/payment", headers=bearer(token(sub="m-1"))).json()
    assert mine["status_code"] == "pending"


def _campaign_count(gateway) -> int:
    return len(gateway.get("/v1/admin/campaigns", headers=OPERATOR,
                           params={"page_size": 100}).json()["campaigns"])


def test_a_campaign_with_malformed_sku_or_product_ids_is_refused_and_leaves_nothing(gateway_with):
    gateway = gateway_with("promotion")
    assert gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body()).status_code == 201
    threshold = {"name": "满减", "kind": "threshold", "starts_at": "2026-12-01T00:00:00Z",
                 "ends_at": "2099-01-01T00:00:00Z", "rungs": [{"threshold_fen": 100, "off_fen": 10}],
                 "scope": "products"}
    for body, field in (
            (flash_body(name="秒杀二", flash_items=[{"sku_id": "²", "sale_price_fen": 1, "quota": 1}]),
             "spec.flash_items[0].sku_id"),
            ({**threshold, "product_ids": ["p-1", "٣"]}, "spec.product_ids[1]"),
            ({**threshold, "product_ids": ["has space"]}, "spec.product_ids[0]")):
        answer = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=body)
        assert answer.status_code == 400, answer.text
        assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
    assert _campaign_count(gateway) == 1


def test_a_campaign_naming_skus_catalog_lacks_is_refused_and_leaves_nothing(gateway_with,
                                                                             monkeypatch):
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "1")
    gateway = gateway_with("promotion", "catalog")
    answer = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body(
        flash_items=[{"sku_id": "sku-nowhere", "sale_price_fen": 9900, "quota": 1}]))
    assert answer.status_code == 400, answer.text
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("spec.sku_ids[0]", "unknown")]
    threshold = {"name": "满减", "kind": "threshold", "starts_at": "2026-12-01T00:00:00Z",
                 "ends_at": "2099-01-01T00:00:00Z", "rungs": [{"threshold_fen": 100, "off_fen": 10}],
                 "scope": "products", "product_ids": ["p-nowhere"]}
    answer = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=threshold)
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("spec.product_ids[0]", "unknown")]
    assert _campaign_count(gateway) == 0


def test_coupons_are_not_issued_to_malformed_member_ids(gateway_with):
    gateway = gateway_with("promotion")
    template_id = gateway.post("/v1/admin/coupon-templates", headers=OPERATOR,
                               json=template_body(claimable=False)).json()["id"]
    answer = gateway.post(f"/v1/admin/coupon-templates/{template_id}/issue", headers=OPERATOR,
                          json={"member_ids": ["m-1", "m ²"]})
    assert answer.status_code == 400, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["member_ids[1]"]
    assert gateway.get(f"/v1/admin/coupon-templates/{template_id}",
                       headers=OPERATOR).json()["issued_count"] == 0
