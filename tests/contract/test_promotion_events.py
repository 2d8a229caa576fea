"""What promotion announces (coupon.*, campaign.*) as support, analytics and member read it, and
what its worker takes from order and member. Promotion is driven through its gRPC API; the
others' events reach it as their relays would send them."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from mall.events.v1 import member_events_pb2 as member
from mall.events.v1 import order_events_pb2 as order
from mall.events.v1 import promotion_events_pb2 as ev
from mall.promotion.v1 import promotion_pb2 as pb
from support_a import NOW, OPERATOR, announced, as_user, deliver, flash_sale, stamp, template_spec, worker_takes
from support_a import members as members  # noqa: F401 (a fixture)
from support_a import promotion as promotion  # noqa: F401 (a fixture)

from servicekit import service

ALICE = str(uuid.uuid4())


@pytest.fixture(autouse=True)
def alice(members):
    """Alice is a live member (promotion asks member before a staff issue)."""
    members(ALICE)


def issued_coupon(promotion, member_id=ALICE) -> tuple[pb.CouponTemplate, pb.Coupon]:
    template = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=template_spec(per_member_limit=5)), metadata=OPERATOR)
    (coupon,) = promotion.IssueCoupons(pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[member_id]), metadata=OPERATOR).coupons
    return template, coupon


def lock(promotion, order_id, coupon_ids):
    return promotion.LockForOrder(pb.LockForOrderRequest(
        order_id=order_id, member_id=ALICE, coupon_ids=coupon_ids,
        expires_at=stamp(NOW + timedelta(minutes=30))))


def test_coupons_and_campaigns_are_announced(promotion):
    template, kept = issued_coupon(promotion)
    (_, revoked) = issued_coupon(promotion)
    promotion.RevokeCoupon(pb.RevokeCouponRequest(coupon_id=revoked.id, reason="误发"),
                           metadata=OPERATOR)
    lock(promotion, "o-1", [kept.id])
    promotion.ReleaseForOrder(pb.ReleaseForOrderRequest(order_id="o-1"))
    lock(promotion, "o-2", [kept.id])
    promotion.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-2"))
    sale = flash_sale(promotion)
    promotion.EndCampaign(pb.EndCampaignRequest(id=sale.id), metadata=OPERATOR)
    deliver("promotion", "member", "points.redeemed", member.PointsRedeemed(
        redemption_id="rd-1", member_id=ALICE, item_id="i-1", item_kind="coupon",
        coupon_template_id="999999", points=200, quantity=1))  # no such template

    rt = service.runtime("promotion")
    created = announced(rt, "coupon.template_created", ev.CouponTemplateCreated)
    assert created[0].template_id == template.id and created[0].kind == "fixed_amount"
    assert created[0].amount_fen == 3000 and created[0].valid_until
    issued = announced(rt, "coupon.issued", ev.CouponIssued)
    assert [(c.coupon_id, c.member_id, c.source) for c in issued] == [
        (kept.id, ALICE, "staff"), (revoked.id, ALICE, "staff")]
    (gone,) = announced(rt, "coupon.revoked", ev.CouponRevoked)
    assert (gone.coupon_id, gone.reason, gone.revoked_by) == (revoked.id, "误发", "staff-operator")
    locked = announced(rt, "coupon.locked", ev.OrderPromotionsLocked)
    assert [(e.order_id, list(e.coupon_ids)) for e in locked] == [("o-1", [kept.id]),
                                                                 ("o-2", [kept.id])]
    (released,) = announced(rt, "coupon.released", ev.CouponsReleased)
    assert (released.order_id, list(released.available_coupon_ids)) == ("o-1", [kept.id])
    (used,) = announced(rt, "coupon.used", ev.CouponsUsed)
    assert (used.order_id, used.member_id, list(used.coupon_ids)) == ("o-2", ALICE, [kept.id])
    (campaign,) = announced(rt, "campaign.created", ev.CampaignCreated)
    assert (campaign.campaign_id, campaign.kind, list(campaign.sku_ids)) == (
        sale.id, "flash_sale", ["sku-75b"])
    (ended,) = announced(rt, "campaign.ended", ev.CampaignEnded)
    assert (ended.campaign_id, ended.ended_by) == (sale.id, "staff-operator")
    (failed,) = announced(rt, "coupon.issue_failed", ev.CouponIssueFailed)
    assert (failed.member_id, failed.source, failed.source_ref, failed.reason) == (
        ALICE, "points", "rd-1", "not_found")


def test_the_worker_takes_orders_and_members_events(promotion, worker_process, members):
    template, paid_with = issued_coupon(promotion)
    _, cancelled_with = issued_coupon(promotion)
    lock(promotion, "o-paid", [paid_with.id])
    lock(promotion, "o-cancelled", [cancelled_with.id])
    _, held_with = issued_coupon(promotion)
    lock(promotion, "o-presale", [held_with.id])  # a pre-sale: its deposit paid, the lock held
    leaving = str(uuid.uuid4())
    members(leaving)
    issued_coupon(promotion, leaving)
    worker_takes(worker_process, "promotion", [
        ("order", "order.paid", order.OrderPaid(order_id="o-paid", member_id=ALICE,
                                                coupon_ids=[paid_with.id])),
        ("order", "order.cancelled", order.OrderCancelled(order_id="o-cancelled", member_id=ALICE,
                                                          coupon_ids=[cancelled_with.id])),
        ("member", "points.redeemed", member.PointsRedeemed(
            redemption_id="rd-2", member_id=ALICE, item_id="i-1", item_kind="coupon",
            coupon_template_id=template.id, points=200, quantity=1)),
        ("member", "member.birthday_gift_granted", member.BirthdayGiftGranted(
            grant_id="g-1", member_id=ALICE, year=2026, coupon_template_id=template.id)),
        ("member", "member.deleted", member.MemberDeleted(member_id=leaving)),
        ("order", "order.deposit_paid", order.OrderDepositPaid(
            order_id="o-presale", member_id=ALICE,
            hold_until=stamp(NOW + timedelta(days=9)).ToJsonString())),
    ])
    mine = promotion.ListMyCoupons(pb.ListMyCouponsRequest(), metadata=as_user(ALICE)).coupons
    assert {(c.source, c.status) for c in mine} == {
        ("staff", "used"), ("staff", "available"), ("points", "available"),
        ("birthday", "available"), ("staff", "locked")}
    with service.runtime("promotion").transaction() as session:
        from services.promotion.models import OrderLock
        assert session.get(OrderLock, "o-presale").expires_at > NOW + timedelta(days=8)
    theirs = promotion.ListMyCoupons(pb.ListMyCouponsRequest(), metadata=as_user(leaving)).coupons
    assert [c.status for c in theirs] == ["revoked"]


def test_every_change_of_a_campaign_or_a_template_is_announced_whole_with_its_version(promotion):
    sale = flash_sale(promotion)
    spec = pb.CampaignSpec()
    spec.CopyFrom(sale.spec)
    spec.ends_at.CopyFrom(stamp(NOW + timedelta(days=3)))
    promotion.UpdateCampaign(pb.UpdateCampaignRequest(id=sale.id, version=1, spec=spec),
                             metadata=OPERATOR)
    promotion.EndCampaign(pb.EndCampaignRequest(id=sale.id), metadata=OPERATOR)
    template = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=template_spec()), metadata=OPERATOR)
    promotion.UpdateCouponTemplate(pb.UpdateCouponTemplateRequest(
        id=template.id, version=1, spec=template_spec(name="满199减30 新")), metadata=OPERATOR)
    promotion.RetireCouponTemplate(pb.RetireCouponTemplateRequest(id=template.id), metadata=OPERATOR)

    rt = service.runtime("promotion")
    changed = announced(rt, "campaign.changed", ev.CampaignChanged)
    assert [(e.change, e.version, e.changed_by, e.campaign.version) for e in changed] == [
        ("created", 1, "staff-operator", 1), ("updated", 2, "staff-operator", 2),
        ("ended", 3, "staff-operator", 3)]
    assert changed[0].campaign == sale  # the whole campaign, as GetCampaign shows it
    assert changed[1].campaign.spec.ends_at == spec.ends_at
    assert changed[2].campaign.status == "ended"
    templates = announced(rt, "coupon.template_changed", ev.CouponTemplateChanged)
    assert [(e.change, e.version, e.template.spec.name, e.template.retired) for e in templates] == [
        ("created", 1, "满199减30", False), ("updated", 2, "满199减30 新", False),
        ("retired", 3, "满199减30 新", True)]
    assert templates[0].template == template


def test_the_worker_gives_a_refunded_orders_coupon_back_by_the_merchants_rule(promotion, worker_process):
    """order.refunded as order publishes it: a partial refund keeps the coupon used; the whole
    order refunded gives it back (the default rule), once, announced as coupon.released."""
    _, used = issued_coupon(promotion)
    lock(promotion, "o-returned", [used.id])
    deliver("promotion", "order", "order.paid", order.OrderPaid(order_id="o-returned", member_id=ALICE,
                                                                coupon_ids=[used.id]))
    worker_takes(worker_process, "promotion", [
        ("order", "order.refunded", order.OrderRefunded(
            order_id="o-returned", member_id=ALICE, refund_id="r-1", refunded_fen=10000,
            paid_fen=30000, full=False)),
    ])

    def status():
        mine = promotion.ListMyCoupons(pb.ListMyCouponsRequest(), metadata=as_user(ALICE)).coupons
        return {c.id: c.status for c in mine}[used.id]

    assert status() == "used"
    worker_takes(worker_process, "promotion", [
        ("order", "order.refunded", order.OrderRefunded(
            order_id="o-returned", member_id=ALICE, refund_id="r-2", refunded_fen=20000,
            paid_fen=30000, full=True)),
    ])
    assert status() == "available"
    released = [e for e in announced(service.runtime("promotion"), "coupon.released", ev.CouponsReleased)
                if e.order_id == "o-returned"]
    assert [list(e.available_coupon_ids) for e in released] == [[used.id]]
