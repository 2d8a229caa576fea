"""What member announces (member.*, points.*) as its consumers (promotion, analytics, support)
read it, and what its worker takes from order and support. Member is driven through its gRPC
API; order's events reach it as order's relay would send them."""
from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from mall.common.v1 import common_pb2
from mall.events.v1 import logistics_events_pb2 as logistics
from mall.events.v1 import member_events_pb2 as ev
from mall.events.v1 import order_events_pb2 as order
from mall.events.v1 import payment_events_pb2 as payment
from mall.events.v1 import support_events_pb2 as support
from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc, member_pb2, member_pb2_grpc, profile_pb2, profile_pb2_grpc
from support_a import OPERATOR, announced, deliver, sign_in, worker_takes
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import service


def stubs(grpc_stub_for):
    return (grpc_stub_for("member", member_pb2_grpc.AuthServiceStub),
            grpc_stub_for("member", profile_pb2_grpc.ProfileServiceStub),
            grpc_stub_for("member", loyalty_pb2_grpc.LoyaltyServiceStub),
            grpc_stub_for("member", loyalty_pb2_grpc.LoyaltyAdminServiceStub))


def paid_order(member_id: str, paid_fen: int, order_id: str | None = None) -> order.OrderPaid:
    return order.OrderPaid(
        order_id=order_id or str(uuid.uuid4()), order_no="20261124000042", member_id=member_id,
        paid_fen=paid_fen, paid_at="2026-11-24T02:00:00+00:00", member_tier="standard",
        lines=[order.OrderEventLine(sku_id="sku-75b-black", product_id="p-1", quantity=1,
                                    unit_price_fen=paid_fen, paid_fen=paid_fen,
                                    category_ids=["c-bra"], line_id="l-1")],
        shipping_address=common_pb2.Address(province="广东省", city="深圳市"))


def test_registration_redemption_tier_and_erasure_are_announced(wechat, grpc_stub_for):
    auth, profiles, loyalty, admin = stubs(grpc_stub_for)
    member_id, me = sign_in(auth)
    admin.AdjustPoints(loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=500,
                                                       reason="seed"), metadata=OPERATOR)
    bag = admin.PutMallItem(loyalty_pb2.MallItem(kind="gift", title="收纳袋", points_price=200,
                                                 stock=5, active=True, gift_sku_id="sku-bag"),
                            metadata=OPERATOR)
    home = profiles.CreateAddress(profile_pb2.CreateAddressRequest(address=common_pb2.Address(
        recipient="王芳", phone="13800000000", province="广东省", city="深圳市", district="南山区",
        detail="科技园 1 号")), metadata=me).address_id
    redemption = loyalty.Redeem(loyalty_pb2.RedeemRequest(item_id=bag.item_id, quantity=1,
                                                          address_id=home), metadata=me)
    # ¥1,200 paid and completed lifts a standard member to silver (¥1,000)
    paid = paid_order(member_id, 120_000)
    deliver("member", "order", "order.paid", paid)
    deliver("member", "order", "order.completed", order.OrderCompleted(
        order_id=paid.order_id, order_no=paid.order_no, member_id=member_id, paid_fen=120_000,
        completed_at="2026-11-30T02:00:00+00:00"))
    assert loyalty.GetMyTier(loyalty_pb2.GetMyTierRequest(), metadata=me).tier.code == "silver"
    profiles.DeleteMyAccount(profile_pb2.DeleteMyAccountRequest(confirm=True), metadata=me)

    rt = service.runtime("member")
    (registered,) = announced(rt, "member.registered", ev.MemberRegistered)
    assert (registered.member_id, registered.channel) == (member_id, "wechat_miniprogram")
    assert registered.registered_at
    (redeemed,) = announced(rt, "points.redeemed", ev.PointsRedeemed)
    assert (redeemed.redemption_id, redeemed.member_id, redeemed.item_id, redeemed.item_kind,
            redeemed.points, redeemed.quantity) == (redemption.redemption_id, member_id,
                                                    bag.item_id, "gift", 200, 1)
    (gift,) = announced(rt, "points.gift_redeemed", ev.PointsGiftRedeemed)
    assert (gift.redemption_id, gift.member_id, gift.sku_id, gift.quantity,
            gift.shipping_address.province, gift.shipping_address.detail) == (
        redemption.redemption_id, member_id, "sku-bag", 1, "广东省", "科技园 1 号")
    (lifted,) = announced(rt, "member.tier_changed", ev.TierChanged)
    assert (lifted.member_id, lifted.from_tier, lifted.to_tier, lifted.to_rank, lifted.reason) \
        == (member_id, "standard", "silver", 1, "order_completed")
    (deleted,) = announced(rt, "member.deleted", ev.MemberDeleted)
    assert deleted.member_id == member_id and deleted.deleted_at


def test_the_worker_takes_orders_and_notifications(wechat, grpc_stub_for, worker_process):
    auth, _, loyalty, _ = stubs(grpc_stub_for)
    member_id, me = sign_in(auth)
    imported = order.OrderImported(order_id=str(uuid.uuid4()), member_id=member_id,
                                   channel="import:acme", partner="acme", batch_id="job-1",
                                   external_id="TB-1", status="paid", payable_fen=9900,
                                   ordered_at="2026-11-20T02:00:00+00:00")
    paid = paid_order(member_id, 39_800)
    worker_takes(worker_process, "member", [
        ("order", "order.paid", paid),
        ("order", "order.imported", imported),
        ("order", "order.imported_batch", order.OrdersImported(
            batch_id="job-2", partner="acme", orders=[order.OrderImported(
                order_id=str(uuid.uuid4()), member_id=member_id, channel="import:acme",
                partner="acme", batch_id="job-2", external_id="TB-2", status="completed",
                payable_fen=5000, ordered_at="2026-11-21T02:00:00+00:00")])),
        ("order", "order.completed", order.OrderCompleted(
            order_id=paid.order_id, member_id=member_id, paid_fen=39_800,
            completed_at="2026-11-30T02:00:00+00:00")),
        ("order", "order.refunded", order.OrderRefunded(
            order_id=paid.order_id, member_id=member_id, refund_id="r-1", refunded_fen=19_900,
            paid_fen=39_800, refunded_at="2026-12-01T02:00:00+00:00")),
        ("order", "order.cancelled", order.OrderCancelled(
            order_id=str(uuid.uuid4()), member_id=member_id, reason="timeout")),
        ("support", "notification.created", support.NotificationCreated(
            notification_id=1, member_id=member_id, kind="order_paid", title="支付成功",
            body="您的订单已支付", order_id=paid.order_id, order_no="20261124000042",
            created_at="2026-11-24T02:00:00+00:00")),
    ])
    habits = auth.GetMe(member_pb2.GetMeRequest(), metadata=me).customer.habits
    assert habits.orders_count == 3  # the paid order and the two imported ones
    history = loyalty.ListPointsHistory(loyalty_pb2.ListPointsHistoryRequest(), metadata=me)
    assert {e.kind for e in history.entries} >= {"earn"}  # ¥398 earns points


def test_the_worker_tells_wechat_a_wechat_pay_orders_shipping(wechat, grpc_stub_for,
                                                              worker_process, wait_until):
    """payment.succeeded (WeChat Pay) and the shipment events as payment's and logistics' relays
    send them: one upload of the booked waybill, one receipt reminder, at the WeChat stand-in."""
    auth, *_ = stubs(grpc_stub_for)
    member_id, _ = sign_in(auth)
    order_id, transaction_id = str(uuid.uuid4()), "42" + uuid.uuid4().hex[:26]

    def shipment(state: int) -> logistics.ShipmentChanged:
        return logistics.ShipmentChanged(
            shipment_id=f"{order_id}:WH1", order_id=order_id, order_no="20261124000043",
            member_id=member_id, warehouse_code="WH1", carrier="sf", waybill_no="SF7000000001",
            state=state, occurred_at="2026-11-25T02:00:00+00:00", shipment_count=1,
            items=[logistics.ShipmentItem(sku_id="sku-75b-black", title="文胸", quantity=1)])

    worker_takes(worker_process, "member", [
        ("payment", "payment.succeeded", payment.PaymentSucceeded(
            payment_intent_id=str(uuid.uuid4()), order_id=order_id, member_id=member_id,
            amount_fen=39_800, currency="CNY", method="wechat_jsapi",
            provider_transaction_id=transaction_id, succeeded_at="2026-11-24T02:00:00+00:00")),
        ("logistics", "shipment.created",
         shipment(logistics.SHIPMENT_CREATED)),
        ("logistics", "shipment.picked_up",
         shipment(logistics.SHIPMENT_PICKED_UP)),
    ])
    worker_takes(worker_process, "member", [
        ("logistics", "shipment.delivered",
         shipment(logistics.SHIPMENT_DELIVERED))])
    seen = wait_until(lambda: (lambda s: s["reminders"] and s)(
        wechat.standin.shipping_of(transaction_id)), timeout=30)
    assert [u["shipping_list"][0]["tracking_no"] for u in seen["uploads"]] == ["SF7000000001"]
    assert len(seen["reminders"]) == 1


def test_a_birthday_gift_is_announced_by_the_workers_sweep(wechat, grpc_stub_for, worker_process,
                                                           wait_until):
    auth, profiles, _, admin = stubs(grpc_stub_for)
    member_id, me = sign_in(auth)
    this_month = datetime.now(ZoneInfo("Asia/Shanghai")).month  # as member counts months
    profiles.UpdateProfile(profile_pb2.UpdateProfileRequest(birthday=f"1995-{this_month:02d}-01"),
                           metadata=me)
    admin.UpdateLoyaltySettings(loyalty_pb2.LoyaltySettings(
        earn_unit_fen=10_000, earn_points_per_unit=10, expire_after_years=1,
        birthday_coupon_template_id="42"), metadata=OPERATOR)
    worker_process("member", extra_env={"MALL_MEMBER_SWEEP_SECONDS": "0.2"})
    rt = service.runtime("member")
    (gift,) = wait_until(lambda: announced(rt, "member.birthday_gift_granted",
                                           ev.BirthdayGiftGranted), timeout=30)
    assert (gift.member_id, gift.coupon_template_id, gift.year) == (
        member_id, "42", datetime.now(ZoneInfo("Asia/Shanghai")).year)
    assert gift.grant_id


def test_a_consent_change_is_announced_for_support_and_analytics(wechat, grpc_stub_for):
    """member.consent_changed, as support's and analytics' read models (servicekit.consents) take it."""
    auth, profiles, _, _ = stubs(grpc_stub_for)
    member_id, me = sign_in(auth)
    for purpose, granted in (("marketing", True), ("marketing", True), ("analytics", True),
                             ("marketing", False)):
        profiles.RecordConsent(profile_pb2.RecordConsentRequest(
            purpose=purpose, granted=granted, source="miniprogram:settings"), metadata=me)
    changes = [c for c in announced(service.runtime("member"), "member.consent_changed",
                                    ev.ConsentChanged) if c.member_id == member_id]
    assert [(c.purpose, c.granted) for c in changes] == [
        ("marketing", True), ("analytics", True), ("marketing", False)]  # the repeat says nothing
    assert [c.version for c in changes] == sorted({c.version for c in changes})
    assert all(c.changed_at.endswith("Z") for c in changes)


def test_the_worker_takes_redemption_outcomes(wechat, grpc_stub_for, worker_process, monkeypatch):
    """coupon.issued / gift.shipment_planned settle a redemption; coupon.issue_failed and
    gift.unavailable give its points back (a return entry) once."""
    from mall.events.v1 import logistics_events_pb2 as logistics
    from mall.events.v1 import promotion_events_pb2 as promotion

    auth, profiles, loyalty, admin = stubs(grpc_stub_for)
    member_id, me = sign_in(auth)
    admin.AdjustPoints(loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=800,
                                                       reason="seed"), metadata=OPERATOR)
    home = profiles.CreateAddress(profile_pb2.CreateAddressRequest(address=common_pb2.Address(
        recipient="王芳", phone="13800000000", province="广东省", city="深圳市",
        detail="科技园 1 号")), metadata=me).address_id
    bag = admin.PutMallItem(loyalty_pb2.MallItem(kind="gift", title="收纳袋", points_price=200,
                                                 stock=5, active=True, gift_sku_id="sku-bag"),
                            metadata=OPERATOR)
    r = [loyalty.Redeem(loyalty_pb2.RedeemRequest(item_id=bag.item_id, quantity=1,
                                                  address_id=home),
                        metadata=[*me, ("idempotency-key", f"tap-{n}")]).redemption_id
         for n in range(4)]
    worker_takes(worker_process, "member", [
        ("promotion", "coupon.issued", promotion.CouponIssued(
            coupon_id="1", member_id=member_id, source="points", source_ref=r[0])),
        ("promotion", "coupon.issue_failed", promotion.CouponIssueFailed(
            member_id=member_id, source="points", source_ref=r[1], reason="ended", quantity=1)),
        ("logistics", "gift.shipment_planned", logistics.GiftShipmentPlanned(
            redemption_id=r[2], member_id=member_id, shipment_ids=["SHP1"])),
        ("logistics", "gift.unavailable", logistics.GiftUnavailable(
            redemption_id=r[3], member_id=member_id, sku_id="sku-bag", requested=1, missing=1,
            reason="out_of_stock")),
    ])
    history = loyalty.ListPointsHistory(loyalty_pb2.ListPointsHistoryRequest(), metadata=me)
    assert sorted(e.ref for e in history.entries if e.kind == "return") == sorted([r[1], r[3]])
    assert history.balance == 800 - 2 * 200
    failed = announced(service.runtime("member"), "points.redemption_failed",
                       ev.PointsRedemptionFailed)
    assert sorted((f.redemption_id, f.reason, f.points_returned) for f in failed) == sorted(
        [(r[1], "ended", 200), (r[3], "out_of_stock", 200)])
