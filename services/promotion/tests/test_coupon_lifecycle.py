"""Claim, issue (staff, events), revoke, expiry and the reminder: limits hold, events once."""
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from servicekit.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from services.promotion import coupons, templates
from services.promotion.models import CouponTemplate, IssuedCoupon

from .helpers import NOW, everyone, fixed_spec


def template(runtime, **overrides):
    overrides.setdefault("claimable", True)
    with runtime.transaction() as session:
        return str(templates.create(session, runtime, fixed_spec(**overrides), created_by="staff-1").id)


def claim(runtime, member_id, template_id):
    with runtime.transaction() as session:
        return coupons.claim(session, runtime, member_id, template_id)


def events(runtime, event_type):
    with runtime.transaction() as session:
        return [json.loads(r.body)["data"] for r in session.execute(select(runtime.outbox_table))
                if r.event_type == event_type]


def issued_count(runtime, template_id):
    with runtime.transaction() as session:
        return session.get(CouponTemplate, int(template_id)).issued_count


def test_claim_within_the_per_member_limit_and_the_total(runtime):
    made = template(runtime, per_member_limit=2, total_quantity=3)
    first = claim(runtime, "m-1", made)
    assert (first.status, first.source, first.member_id) == ("available", "claim", "m-1")
    claim(runtime, "m-1", made)
    with pytest.raises(ResourceExhausted) as err:
        claim(runtime, "m-1", made)
    assert err.value.violations[0].rule == "per_member_limit"
    claim(runtime, "m-2", made)
    with pytest.raises(ResourceExhausted) as err:
        claim(runtime, "m-3", made)
    assert err.value.violations[0].rule == "exhausted"
    assert issued_count(runtime, made) == 3 and len(events(runtime, "coupon.issued")) == 3


def test_a_coupon_valid_for_days_counts_from_the_claim(runtime):
    made = template(runtime, valid_from=None, valid_until=None, valid_days_after_claim=7)
    coupon = claim(runtime, "m-1", made)
    assert coupon.valid_until - coupon.valid_from == timedelta(days=7)


def test_only_claimable_templates_are_claimed_and_listed(runtime):
    shop_only = template(runtime, claimable=False)
    open_one = template(runtime, name="可领券")
    with pytest.raises(FailedPrecondition):
        claim(runtime, "m-1", shop_only)
    with runtime.transaction() as session:
        assert [str(t.id) for t in coupons.claimable(session, NOW, 10, None)] == [open_one]


def test_concurrent_claims_never_pass_the_total(runtime):
    made = template(runtime, per_member_limit=1, total_quantity=10)
    outcomes, barrier = [], threading.Barrier(8)

    def member(n):
        barrier.wait(10)
        for attempt in range(4):
            try:
                claim(runtime, f"m-{n}-{attempt % 2}", made)
                outcomes.append("ok")
            except ResourceExhausted:
                outcomes.append("refused")

    threads = [threading.Thread(target=member, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 10 and len(outcomes) == 32
    with runtime.transaction() as session:
        owners = [c.member_id for c in session.scalars(select(IssuedCoupon))]
    assert len(owners) == len(set(owners)) == 10  # nobody twice (limit 1)


def test_staff_issue_to_a_segment_all_or_nothing_and_a_retry_issues_nothing_new(runtime):
    made = template(runtime, per_member_limit=1, total_quantity=5, claimable=False)
    with runtime.transaction() as session:
        issued = coupons.issue_to_members(session, runtime, made, ["m-1", "m-2"], staff_id="s",
                                          existing=everyone, idempotency_key="seg-1")
    with runtime.transaction() as session:
        again = coupons.issue_to_members(session, runtime, made, ["m-1", "m-2"], staff_id="s",
                                         existing=everyone, idempotency_key="seg-1")
    assert [c.id for c in again] == [c.id for c in issued]
    with pytest.raises(ResourceExhausted), runtime.transaction() as session:  # m-1 is at its limit
        coupons.issue_to_members(session, runtime, made, ["m-3", "m-1"], staff_id="s",
                                 existing=everyone)
    with pytest.raises(InvalidArgument), runtime.transaction() as session:
        coupons.issue_to_members(session, runtime, made, ["m-4", "m-4"], staff_id="s",
                                 existing=everyone)
    assert issued_count(runtime, made) == 2  # m-3 was not issued either


def test_staff_issue_to_ids_that_are_not_members_is_refused_before_anything_is_written(runtime):
    made = template(runtime, per_member_limit=1, total_quantity=5, claimable=False)
    asked: list[list[str]] = []

    def members_are(*live):
        def existing(ids):
            asked.append(list(ids))
            return [i for i in ids if i in live]
        return existing
    with pytest.raises(InvalidArgument) as refused, runtime.transaction() as session:
        coupons.issue_to_members(session, runtime, made, ["m-1", "ghost", "m-2", "gone"],
                                 staff_id="s", existing=members_are("m-1", "m-2"))
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("member_ids[1]", "unknown"), ("member_ids[3]", "unknown")]
    assert "2 of the 4 member ids are not members" in str(refused.value)
    assert issued_count(runtime, made) == 0  # not even m-1's
    with pytest.raises(InvalidArgument), runtime.transaction() as session:  # the form first
        coupons.issue_to_members(session, runtime, made, ["m ²"], staff_id="s",
                                 existing=members_are())
    assert asked == [["m-1", "ghost", "m-2", "gone"]]  # a malformed list never asks member
    with runtime.transaction() as session:
        issued = coupons.issue_to_members(session, runtime, made, ["m-1", "m-2"], staff_id="s",
                                          existing=members_are("m-1", "m-2"))
    assert [c.member_id for c in issued] == ["m-1", "m-2"]


def test_event_issues_are_keyed_by_their_source_and_report_failures(runtime):
    made = template(runtime, per_member_limit=1, total_quantity=3, claimable=False)
    for _ in range(2):
        with runtime.transaction() as session:
            got = coupons.issue_for_event(session, runtime, template_id=made, member_id="m-1",
                                          source="points", source_ref="r-1", quantity=2)
    assert len(got) == 2 and {c.source for c in got} == {"points"}  # past the member limit: paid for
    with runtime.transaction() as session:
        assert coupons.issue_for_event(session, runtime, template_id=made, member_id="m-2",
                                       source="birthday", source_ref="g-1", quantity=2) == []
        assert coupons.issue_for_event(session, runtime, template_id="424242", member_id="m-2",
                                       source="birthday", source_ref="g-2") == []
    assert issued_count(runtime, made) == 2
    assert [(e["sourceRef"], e["reason"]) for e in events(runtime, "coupon.issue_failed")] == \
        [("g-1", "exhausted"), ("g-2", "not_found")]


def test_an_event_issue_from_an_ended_template_reports_ended_and_issues_nothing(runtime):
    made = template(runtime, claimable=False)
    with runtime.transaction() as session:  # its window closed after a points-mall item named it
        session.get(CouponTemplate, int(made)).valid_until = NOW - timedelta(minutes=1)
    for _ in range(2):  # a redelivery under a new event id fails the same way, still nothing issued
        with runtime.transaction() as session:
            assert coupons.issue_for_event(session, runtime, template_id=made, member_id="m-1",
                                           source="points", source_ref="r-9", quantity=2) == []
    assert issued_count(runtime, made) == 0
    failed = events(runtime, "coupon.issue_failed")
    assert [(e["sourceRef"], e["reason"], e["quantity"]) for e in failed] == [("r-9", "ended", 2)] * 2


def test_revoke_only_an_available_coupon(runtime):
    coupon = claim(runtime, "m-1", template(runtime))
    with runtime.transaction() as session:
        assert coupons.revoke(session, runtime, str(coupon.id), reason="误发", staff_id="s").status == "revoked"
    with runtime.transaction() as session, pytest.raises(FailedPrecondition):
        coupons.revoke(session, runtime, str(coupon.id), reason="again", staff_id="s")
    assert events(runtime, "coupon.revoked")[0]["reason"] == "误发"


def test_reminder_once_three_days_before_and_expiry_after(runtime):
    made = template(runtime)
    soon, later = claim(runtime, "m-1", made), claim(runtime, "m-2", made)
    with runtime.transaction() as session:
        session.get(IssuedCoupon, soon.id).valid_until = NOW + timedelta(days=2)
        session.get(IssuedCoupon, later.id).valid_until = NOW + timedelta(days=10)
    for _ in range(2):
        with runtime.transaction() as session:
            coupons.remind_expiring(session, runtime, NOW)
    assert [e["couponId"] for e in events(runtime, "coupon.expiring")] == [str(soon.id)]
    with runtime.transaction() as session:
        assert coupons.expire_due(session, runtime, NOW + timedelta(days=3)) == 1
        assert coupons.expire_due(session, runtime, NOW + timedelta(days=3)) == 0
        assert session.get(IssuedCoupon, soon.id).status == "expired"
    assert [e["couponId"] for e in events(runtime, "coupon.expired")] == [str(soon.id)]


def test_list_mine_by_state(runtime):
    made = template(runtime, per_member_limit=3)
    first, second = claim(runtime, "m-1", made), claim(runtime, "m-1", made)
    claim(runtime, "m-2", made)
    with runtime.transaction() as session:
        coupons.revoke(session, runtime, str(first.id), reason="", staff_id="s")
        assert [c.id for c, _ in coupons.list_mine(session, "m-1", "", 10, None)] == [second.id, first.id]
        assert [c.id for c, _ in coupons.list_mine(session, "m-1", "available", 10, None)] == [second.id]
        with pytest.raises(InvalidArgument):
            coupons.list_mine(session, "m-1", "lost", 10, None)


def test_a_deleted_members_available_coupons_are_revoked(runtime):
    made = template(runtime, per_member_limit=3)
    kept, gone, other = claim(runtime, "m-1", made), claim(runtime, "m-1", made), claim(runtime, "m-2", made)
    with runtime.transaction() as session:
        session.get(IssuedCoupon, kept.id).status = "used"
    with runtime.transaction() as session:
        assert coupons.revoke_all_of(session, runtime, "m-1", reason="member deleted") == 1
    with runtime.transaction() as session:
        assert [session.get(IssuedCoupon, c.id).status for c in (kept, gone, other)] == \
            ["used", "revoked", "available"]
    assert [e["couponId"] for e in events(runtime, "coupon.revoked")] == [str(gone.id)]
