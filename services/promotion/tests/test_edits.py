"""Staff edit campaigns and coupon templates through the real gRPC server: a scheduled campaign
freely (the rules of create), a running one without repricing, never an ended one; templates
edited and retired; a stale version refused; every change in the history and announced."""
import json
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import grpc
import pytest
from sqlalchemy import select

from .grpc_helpers import OPERATOR, pb, rpc_error, shopper, stamp, violations
from .helpers import NOW

Code = grpc.StatusCode
ADMIN = (("x-mall-user-id", "staff-admin"), ("x-mall-roles", "admin"))


def flash_spec(*, starts=NOW - timedelta(hours=1), ends=NOW + timedelta(days=1), skus=("sku-s",),
               price=9900, quota=10, name="秒杀") -> pb.CampaignSpec:
    return pb.CampaignSpec(
        name=name, kind=pb.FLASH_SALE, starts_at=stamp(starts), ends_at=stamp(ends),
        per_member_limit=2,
        flash_items=[pb.FlashSaleItem(sku_id=s, sale_price_fen=price, quota=quota) for s in skus])


def create(stub, spec):
    return stub.CreateCampaign(pb.CreateCampaignRequest(spec=spec), metadata=OPERATOR)


def edit(stub, campaign, change=lambda spec: None, version=None, metadata=OPERATOR):
    spec = pb.CampaignSpec()
    spec.CopyFrom(campaign.spec)
    change(spec)
    return stub.UpdateCampaign(pb.UpdateCampaignRequest(
        id=campaign.id, version=campaign.version if version is None else version, spec=spec),
        metadata=metadata)


def refused(stub, campaign, change, version=None):
    return rpc_error(edit, stub, campaign, change, version)


def history(stub, campaign_id, **page):
    return stub.ListCampaignHistory(pb.ListHistoryRequest(id=campaign_id, page=page or None),
                                    metadata=OPERATOR)


def events(runtime, event_type):
    with runtime.transaction() as session:
        return [e["data"] for e in (json.loads(r.body) for r in session.execute(
            select(runtime.outbox_table).order_by(runtime.outbox_table.c.created_at)))
            if e["type"] == event_type]


def quote(stub, quantity=1, sku="sku-s"):
    return stub.Quote(pb.QuoteRequest(
        lines=[pb.QuoteLine(line_id="1", sku_id=sku, product_id="p-s", quantity=quantity,
                            list_price_fen=15900)],
        member=pb.PricingMember(member_id="m-1"), now=stamp(NOW + timedelta(seconds=5))))


def lock(stub, order_id, claims, member="m-1"):
    return stub.LockForOrder(pb.LockForOrderRequest(
        order_id=order_id, member_id=member, flash_lines=claims,
        expires_at=stamp(NOW + timedelta(minutes=30))))


# ---- campaigns: scheduled ----

def test_a_scheduled_campaign_takes_any_spec_create_would_accept(stub, runtime):
    made = create(stub, flash_spec(starts=NOW + timedelta(days=1), ends=NOW + timedelta(days=2)))
    assert made.version == 1

    def reprice(spec):
        spec.name = "秒杀 改"
        spec.flash_items[0].sale_price_fen = 8800
        spec.flash_items[0].quota = 5
        spec.flash_items.add(sku_id="sku-t", price_percent=80, quota=3)
        spec.ends_at.CopyFrom(stamp(NOW + timedelta(days=3)))

    edited = edit(stub, made, reprice)
    assert (edited.version, edited.spec.name) == (2, "秒杀 改")
    assert [(i.sku_id, i.sale_price_fen, i.price_percent, i.quota) for i in edited.spec.flash_items] \
        == [("sku-s", 8800, 0, 5), ("sku-t", 0, 80, 3)]
    assert sorted((q.sku_id, q.total, q.taken) for q in edited.quotas) == [("sku-s", 5, 0),
                                                                          ("sku-t", 3, 0)]
    assert stub.GetCampaign(pb.GetCampaignRequest(id=made.id), metadata=OPERATOR) == edited
    # Even its kind: a scheduled ladder instead of the flash sale.

    def into_a_ladder(spec):
        spec.kind = pb.THRESHOLD
        spec.ClearField("flash_items")
        spec.ClearField("per_member_limit")
        spec.rungs.add(threshold_fen=20000, off_fen=5000)

    ladder = edit(stub, edited, into_a_ladder)
    assert (ladder.version, ladder.spec.kind, list(ladder.quotas)) == (3, pb.THRESHOLD, [])


def test_a_scheduled_edit_meets_the_rules_of_create_and_changes_nothing_when_refused(stub):
    made = create(stub, flash_spec(starts=NOW + timedelta(days=1), ends=NOW + timedelta(days=2)))

    def broken(spec):
        spec.ends_at.CopyFrom(stamp(NOW + timedelta(hours=1)))  # before its start
        spec.flash_items[0].price_percent = 50  # and a sale price: one or the other
        spec.name = " "

    err = refused(stub, made, broken)
    assert err.code() == Code.INVALID_ARGUMENT
    assert set(violations(err)) == {("spec.ends_at", "after_start"), ("spec.name", "required"),
                                    ("spec.flash_items[0].sale_price_fen", "price_or_percent")}
    assert stub.GetCampaign(pb.GetCampaignRequest(id=made.id), metadata=OPERATOR) == made


def test_overlaps_are_checked_against_the_others_not_itself(stub):
    other = create(stub, flash_spec(skus=("sku-o",), name="别的秒杀", ends=NOW + timedelta(days=5)))
    made = create(stub, flash_spec(starts=NOW + timedelta(days=1), ends=NOW + timedelta(days=2)))
    assert edit(stub, made, lambda s: setattr(s, "name", "仍是自己")).version == 2  # no overlap with itself
    err = refused(stub, stub.GetCampaign(pb.GetCampaignRequest(id=made.id), metadata=OPERATOR),
                  lambda s: s.flash_items.add(sku_id="sku-o", sale_price_fen=100, quota=1))
    assert violations(err) == [("spec.sku_ids", "overlaps")]
    assert f"campaign {other.id}" in err.details()


# ---- campaigns: running ----

def test_a_running_campaign_changes_its_text_end_and_quota(stub):
    made = create(stub, flash_spec(quota=10))
    longer = edit(stub, made, lambda s: (s.ends_at.CopyFrom(stamp(NOW + timedelta(days=5))),
                                         setattr(s, "name", "秒杀 加场"),
                                         setattr(s, "description", "加量不加价")))
    assert (longer.version, longer.spec.name, longer.spec.description) == (2, "秒杀 加场", "加量不加价")
    shorter = edit(stub, longer, lambda s: s.ends_at.CopyFrom(stamp(NOW + timedelta(hours=2))))
    assert shorter.spec.ends_at == stamp(NOW + timedelta(hours=2))
    more = edit(stub, shorter, lambda s: setattr(s.flash_items[0], "quota", 50))
    assert [(q.total, q.taken) for q in more.quotas] == [(50, 0)]
    assert more.version == 4


def test_a_running_campaign_is_never_repriced(stub):
    sale = create(stub, flash_spec())
    cases = {
        "spec.flash_items[0].sale_price_fen": lambda s: setattr(s.flash_items[0], "sale_price_fen", 100),
        "spec.flash_items[0].price_percent": lambda s: (setattr(s.flash_items[0], "sale_price_fen", 0),
                                                        setattr(s.flash_items[0], "price_percent", 50)),
        "spec.flash_items": lambda s: s.flash_items.add(sku_id="sku-new", sale_price_fen=100, quota=1),
        "spec.starts_at": lambda s: s.starts_at.CopyFrom(stamp(NOW - timedelta(hours=2))),
        "spec.per_member_limit": lambda s: setattr(s, "per_member_limit", 9),
    }
    for field, change in cases.items():
        err = refused(stub, sale, change)
        assert err.code() == Code.INVALID_ARGUMENT, field
        assert (field, "running") in violations(err), (field, violations(err))
    ladder = create(stub, pb.CampaignSpec(
        name="满200减50", kind=pb.THRESHOLD, starts_at=stamp(NOW - timedelta(hours=1)),
        ends_at=stamp(NOW + timedelta(days=1)), rungs=[pb.Rung(threshold_fen=20000, off_fen=5000)],
        scope=pb.CATEGORIES, category_ids=["bras"]))
    err = refused(stub, ladder, lambda s: (setattr(s.rungs[0], "off_fen", 9000),
                                           s.category_ids.append("panties")))
    assert set(violations(err)) == {("spec.rungs", "running"), ("spec.scope", "running")}
    assert stub.GetCampaign(pb.GetCampaignRequest(id=sale.id), metadata=OPERATOR) == sale


def test_an_end_in_the_past_and_a_quota_below_what_is_taken_are_refused(stub):
    sale = create(stub, flash_spec(quota=10))
    lock(stub, "o-1", quote(stub, quantity=2).quota_claims)
    sale = stub.GetCampaign(pb.GetCampaignRequest(id=sale.id), metadata=OPERATOR)
    err = refused(stub, sale, lambda s: s.ends_at.CopyFrom(stamp(NOW - timedelta(minutes=1))))
    assert violations(err) == [("spec.ends_at", "future")]
    err = refused(stub, sale, lambda s: setattr(s.flash_items[0], "quota", 1))
    assert violations(err) == [("spec.flash_items[0].quota", "below_taken")]
    assert "2 units" in err.details()
    fewer = edit(stub, sale, lambda s: setattr(s.flash_items[0], "quota", 2))  # down to what is taken
    assert [(q.total, q.taken) for q in fewer.quotas] == [(2, 2)]


def test_a_placed_order_keeps_its_price_through_every_edit(stub):
    sale = create(stub, flash_spec(price=9900, quota=10))
    before = quote(stub)
    assert before.lines[0].payable_fen == 9900
    locked = lock(stub, "o-placed", before.quota_claims)
    refused(stub, sale, lambda s: setattr(s.flash_items[0], "sale_price_fen", 12900))
    edited = edit(stub, sale, lambda s: (setattr(s.flash_items[0], "quota", 20),
                                         s.ends_at.CopyFrom(stamp(NOW + timedelta(days=9))),
                                         setattr(s, "name", "秒杀 延长")))
    assert [(q.total, q.taken) for q in edited.quotas] == [(20, 1)]
    # The order's lock holds what it held; paying it consumes that; the price is the same.
    assert lock(stub, "o-placed", before.quota_claims) == locked
    assert stub.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-placed")).status == "consumed"
    after = quote(stub)
    assert after.lines[0].payable_fen == before.lines[0].payable_fen == 9900
    assert after.lines[0].discounts == before.lines[0].discounts


def test_an_ended_campaign_cannot_be_edited(stub):
    sale = create(stub, flash_spec())
    ended = stub.EndCampaign(pb.EndCampaignRequest(id=sale.id), metadata=OPERATOR)
    assert ended.version == 2
    err = refused(stub, ended, lambda s: setattr(s, "name", "复活"))
    assert err.code() == Code.FAILED_PRECONDITION and violations(err) == [("id", "ended")]


def test_a_stale_version_is_aborted_naming_it(stub):
    sale = create(stub, flash_spec())
    edit(stub, sale, lambda s: setattr(s, "name", "第一次"))
    err = refused(stub, sale, lambda s: setattr(s, "name", "第二次"))  # made on version 1
    assert err.code() == Code.ABORTED
    assert violations(err) == [("version", "stale")] and "version 2" in err.details()
    err = refused(stub, sale, lambda s: setattr(s, "name", "无版本"), version=0)
    assert err.code() == Code.INVALID_ARGUMENT and violations(err) == [("version", "required")]


def test_two_edits_on_one_version_one_wins(stub):
    sale = create(stub, flash_spec())
    codes, barrier = [], threading.Barrier(2)

    def attempt(name):
        barrier.wait(5)
        try:
            edit(stub, sale, lambda s: setattr(s, "name", name))
            codes.append(Code.OK)
        except grpc.RpcError as err:
            codes.append(err.code())

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(codes, key=str) == sorted([Code.OK, Code.ABORTED], key=str)
    assert stub.GetCampaign(pb.GetCampaignRequest(id=sale.id), metadata=OPERATOR).version == 2


def test_an_edit_that_changes_nothing_keeps_the_version(stub, runtime):
    sale = create(stub, flash_spec())
    assert edit(stub, sale) == sale
    assert [e["change"] for e in events(runtime, "campaign.changed")] == ["created"]


def test_every_change_is_in_the_history_newest_first_and_announced(stub, runtime):
    sale = create(stub, flash_spec(quota=10))
    edited = edit(stub, sale, lambda s: (setattr(s.flash_items[0], "quota", 30),
                                         s.ends_at.CopyFrom(stamp(NOW + timedelta(days=4)))),
                  metadata=ADMIN)
    stub.EndCampaign(pb.EndCampaignRequest(id=sale.id), metadata=OPERATOR)
    entries = history(stub, sale.id).entries
    assert [(e.action, e.version, e.changed_by) for e in entries] == [
        ("ended", 3, "staff-1"), ("updated", 2, "staff-admin"), ("created", 1, "staff-1")]
    assert [(c.field, c.before, c.after) for c in entries[0].changes] == [("status", "active", "ended")]
    assert {(c.field, c.before, c.after) for c in entries[1].changes} == {
        ("flash_items[0].quota", "10", "30"),
        ("ends_at", sale.spec.ends_at.ToJsonString(), edited.spec.ends_at.ToJsonString())}
    created = {c.field: (c.before, c.after) for c in entries[2].changes}
    assert created["name"] == ("", "秒杀") and created["flash_items[0].sale_price_fen"] == ("", "9900")
    assert entries[1].changed_at.ToDatetime() >= entries[2].changed_at.ToDatetime()
    # Paged like the other lists.
    first = history(stub, sale.id, page_size=2)
    rest = history(stub, sale.id, page_token=first.page.next_page_token, page_size=2)
    assert [e.version for e in first.entries] + [e.version for e in rest.entries] == [3, 2, 1]
    assert rest.page.next_page_token == ""
    assert rpc_error(history, stub, "999999").code() == Code.NOT_FOUND
    # campaign.changed: the whole campaign as GetCampaign shows it, with its version.
    changed = events(runtime, "campaign.changed")
    assert [(e["change"], e["version"], e["changedBy"]) for e in changed] == [
        ("created", "1", "staff-1"), ("updated", "2", "staff-admin"), ("ended", "3", "staff-1")]
    assert changed[1]["campaign"]["spec"]["flashItems"][0]["quota"] == "30"
    assert changed[2]["campaign"]["status"] == "ended" and changed[2]["campaign"]["version"] == "3"


def test_staff_only(stub):
    sale = create(stub, flash_spec())
    err = rpc_error(edit, stub, sale, lambda s: setattr(s, "name", "x"), metadata=shopper("m-1"))
    assert err.code() == Code.PERMISSION_DENIED
    err = rpc_error(stub.ListCampaignHistory, pb.ListHistoryRequest(id=sale.id))
    assert err.code() == Code.UNAUTHENTICATED


# ---- coupon templates ----

def template_spec(**overrides) -> pb.CouponTemplateSpec:
    values = dict(name="满199减30", kind=pb.FIXED_AMOUNT, amount_fen=3000, threshold_fen=19900,
                  per_member_limit=2, total_quantity=100, claimable=True, scope=pb.ALL,
                  window=pb.ValidityWindow(valid_from=stamp(NOW - timedelta(hours=1)),
                                           valid_until=stamp(NOW + timedelta(days=10))))
    values.update(overrides)
    return pb.CouponTemplateSpec(**values)


def make_template(stub, **overrides):
    return stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=template_spec(**overrides)),
                                     metadata=OPERATOR)


def edit_template(stub, template, change=lambda spec: None, version=None):
    spec = pb.CouponTemplateSpec()
    spec.CopyFrom(template.spec)
    change(spec)
    return stub.UpdateCouponTemplate(pb.UpdateCouponTemplateRequest(
        id=template.id, version=template.version if version is None else version, spec=spec),
        metadata=OPERATOR)


def retire(stub, template_id):
    return stub.RetireCouponTemplate(pb.RetireCouponTemplateRequest(id=template_id), metadata=OPERATOR)


def claim(stub, template_id, member="m-1"):
    return stub.ClaimCoupon(pb.ClaimCouponRequest(template_id=template_id), metadata=shopper(member))


def test_a_template_nobody_holds_yet_changes_freely(stub, runtime):
    later = pb.ValidityWindow(valid_from=stamp(NOW + timedelta(days=1)),
                              valid_until=stamp(NOW + timedelta(days=9)))
    made = make_template(stub, window=later)
    edited = edit_template(stub, made, lambda s: (setattr(s, "amount_fen", 5000),
                                                  setattr(s, "threshold_fen", 29900),
                                                  setattr(s, "per_member_limit", 1)))
    assert (edited.version, edited.spec.amount_fen, edited.spec.per_member_limit) == (2, 5000, 1)
    err = rpc_error(edit_template, stub, edited, lambda s: setattr(s, "percent_off", 120))
    assert err.code() == Code.INVALID_ARGUMENT and violations(err) == [("spec.percent_off", "unused")]
    changed = events(runtime, "coupon.template_changed")
    assert [(e["change"], e["version"]) for e in changed] == [("created", "1"), ("updated", "2")]
    assert changed[1]["template"]["spec"]["amountFen"] == "5000"


def test_a_template_in_use_changes_only_its_text_total_and_end(stub):
    made = make_template(stub, total_quantity=3)
    held = claim(stub, made.id)
    made = stub.GetCouponTemplate(pb.GetCouponTemplateRequest(id=made.id), metadata=OPERATOR)

    def revalue(spec):
        spec.amount_fen = 5000
        spec.scope = pb.PRODUCTS
        spec.product_ids.append("p-1")
        spec.window.valid_until.CopyFrom(stamp(NOW + timedelta(days=2)))  # earlier

    err = rpc_error(edit_template, stub, made, revalue)
    assert err.code() == Code.INVALID_ARGUMENT
    assert set(violations(err)) == {("spec.amount_fen", "in_use"), ("spec.scope", "in_use"),
                                    ("spec.product_ids", "in_use"),
                                    ("spec.window.valid_until", "in_use")}

    def fine(spec):
        spec.name = "满199减30 加量"
        spec.description = "限时加量"
        spec.total_quantity = 500
        spec.window.valid_until.CopyFrom(stamp(NOW + timedelta(days=30)))

    edited = edit_template(stub, made, fine)
    assert (edited.spec.name, edited.spec.total_quantity, edited.version) == ("满199减30 加量", 500, 2)
    # The coupon already issued keeps its own validity; the new end is for coupons issued from now.
    mine = stub.ListMyCoupons(pb.ListMyCouponsRequest(), metadata=shopper("m-1")).coupons
    assert [(c.id, c.valid_until) for c in mine] == [(held.id, held.valid_until)]
    assert claim(stub, made.id, "m-2").valid_until == stamp(NOW + timedelta(days=30))


def test_a_template_total_never_goes_below_what_is_issued(stub):
    made = make_template(stub, total_quantity=5, per_member_limit=1)
    claim(stub, made.id, "m-1")
    claim(stub, made.id, "m-2")
    made = stub.GetCouponTemplate(pb.GetCouponTemplateRequest(id=made.id), metadata=OPERATOR)
    err = rpc_error(edit_template, stub, made, lambda s: setattr(s, "total_quantity", 1))
    assert violations(err) == [("spec.total_quantity", "below_issued")]
    assert edit_template(stub, made, lambda s: setattr(s, "total_quantity", 2)).spec.total_quantity == 2


def test_a_stale_template_version_is_aborted(stub):
    made = make_template(stub)
    edit_template(stub, made, lambda s: setattr(s, "name", "一"))
    err = rpc_error(edit_template, stub, made, lambda s: setattr(s, "name", "二"))
    assert err.code() == Code.ABORTED and violations(err) == [("version", "stale")]


def test_a_retired_template_issues_nothing_new_and_its_coupons_stay_usable(stub, runtime, members):
    members("m-3")  # a live member: the refusal is the template's
    made = make_template(stub)
    held = claim(stub, made.id, "m-1")
    retired = retire(stub, made.id)
    assert (retired.retired, retired.retired_by, retired.version) == (True, "staff-1", 2)
    assert retire(stub, made.id) == retired  # twice: the same, nothing more
    err = rpc_error(claim, stub, made.id, "m-2")
    assert err.code() == Code.FAILED_PRECONDITION and violations(err) == [("template_id", "retired")]
    err = rpc_error(stub.IssueCoupons, pb.IssueCouponsRequest(template_id=made.id, member_ids=["m-3"]),
                    metadata=OPERATOR)
    assert err.code() == Code.FAILED_PRECONDITION and violations(err) == [("template_id", "retired")]
    assert stub.ListClaimableCoupons(pb.ListClaimableCouponsRequest(),
                                     metadata=shopper("m-2")).templates == []
    listed = stub.ListCouponTemplates(pb.ListCouponTemplatesRequest(), metadata=OPERATOR).templates
    assert [(t.id, t.retired) for t in listed] == [(made.id, True)]
    # The coupon already issued is still hers and still pays.
    locked = stub.LockForOrder(pb.LockForOrderRequest(
        order_id="o-1", member_id="m-1", coupon_ids=[held.id],
        expires_at=stamp(NOW + timedelta(minutes=30))))
    assert locked.status == "locked"
    assert stub.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-1")).status == "consumed"
    err = rpc_error(edit_template, stub, retired, lambda s: setattr(s, "name", "复活"))
    assert err.code() == Code.FAILED_PRECONDITION and violations(err) == [("id", "retired")]
    entries = stub.ListCouponTemplateHistory(pb.ListHistoryRequest(id=made.id), metadata=OPERATOR).entries
    assert [(e.action, e.version) for e in entries] == [("retired", 2), ("created", 1)]
    assert [(c.field, c.before, c.after) for c in entries[0].changes] == [("retired", "false", "true")]
    assert [e["change"] for e in events(runtime, "coupon.template_changed")] == ["created", "retired"]


def test_an_event_issue_of_a_retired_template_fails_and_says_so(stub, runtime):
    from services.promotion import coupons

    made = make_template(stub)
    retire(stub, made.id)
    with runtime.transaction() as session:
        assert coupons.issue_for_event(session, runtime, template_id=made.id, member_id="m-9",
                                       source="points", source_ref="rd-1") == []
    (failed,) = events(runtime, "coupon.issue_failed")
    assert (failed["reason"], failed["sourceRef"]) == ("ended", "rd-1")


def test_a_claim_racing_a_retirement_never_issues_after_it(stub, runtime):
    """A claim that read the template before it was retired is stopped by the conditional
    issue (retired_at IS NULL), not only by the first read."""
    from servicekit.errors import FailedPrecondition
    from services.promotion import coupons, templates

    made = make_template(stub)
    with runtime.transaction() as session:
        template = templates.get(session, made.id)  # read before the retirement
        retire(stub, made.id)  # commits in the server meanwhile; the read above is stale
        try:
            coupons._issue(session, runtime, template, "m-1", source="claim", source_ref="m-1",
                           enforce_member_limit=True)
            raise AssertionError("issued from a retired template")
        except FailedPrecondition as err:
            assert err.violations[0].rule == "retired"


def test_a_weekly_sale_resizes_the_quota_of_the_session_on_and_of_the_later_ones(stub):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    beijing = now.astimezone(ZoneInfo("Asia/Shanghai"))
    minute = beijing.hour * 60 + beijing.minute
    if not 2 <= minute <= 24 * 60 - 4:
        pytest.skip("a session around now would cross midnight in Beijing")
    clock = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    spec = flash_spec(quota=3)
    spec.session.CopyFrom(pb.WeeklySession(weekday=beijing.isoweekday(), start=clock(minute - 1),
                                           end=clock(minute + 3)))
    sale = create(stub, spec)
    claims = stub.Quote(pb.QuoteRequest(
        lines=[pb.QuoteLine(line_id="1", sku_id="sku-s", product_id="p-s", quantity=2,
                            list_price_fen=15900)],
        member=pb.PricingMember(member_id="m-1"), now=stamp(now))).quota_claims
    lock(stub, "o-1", claims)
    sale = stub.GetCampaign(pb.GetCampaignRequest(id=sale.id), metadata=OPERATOR)
    (session,) = sale.quotas
    assert (session.total, session.taken) == (3, 2) and session.session
    err = refused(stub, sale, lambda s: setattr(s.flash_items[0], "quota", 1))
    assert violations(err) == [("spec.flash_items[0].quota", "below_taken")]
    bigger = edit(stub, sale, lambda s: setattr(s.flash_items[0], "quota", 10))
    assert [(q.session, q.total, q.taken) for q in bigger.quotas] == [(session.session, 10, 2)]
    assert bigger.spec.flash_items[0].quota == 10  # every later session starts from 10
    err = refused(stub, bigger, lambda s: setattr(s.session, "end", clock(minute + 4)))
    assert violations(err) == [("spec.session", "running")]


def test_a_running_gift_changes_its_title_and_stock_never_its_terms(stub):
    gift = create(stub, pb.CampaignSpec(
        name="满300赠收纳袋", kind=pb.GIFT, starts_at=stamp(NOW - timedelta(hours=1)),
        ends_at=stamp(NOW + timedelta(days=1)), gift=pb.GiftRule(
            threshold_fen=30000, gift_sku_id="sku-bag", gift_title="收纳袋", quantity_per_order=1,
            stock=5)))
    edited = edit(stub, gift, lambda s: (setattr(s.gift, "gift_title", "真丝收纳袋"),
                                         setattr(s.gift, "stock", 8)))
    assert (edited.spec.gift.gift_title, [(q.total, q.taken) for q in edited.quotas]) == \
        ("真丝收纳袋", [(8, 0)])
    err = refused(stub, edited, lambda s: (setattr(s.gift, "threshold_fen", 20000),
                                           setattr(s.gift, "quantity_per_order", 2)))
    assert set(violations(err)) == {("spec.gift.threshold_fen", "running"),
                                    ("spec.gift.quantity_per_order", "running")}


def test_a_presale_open_to_early_access_is_running(stub):
    opens = NOW + timedelta(days=1)
    presale = create(stub, pb.CampaignSpec(
        name="双11预售", kind=pb.PRESALE, starts_at=stamp(opens), ends_at=stamp(opens + timedelta(days=3)),
        presale=pb.PresaleRule(items=[pb.PresaleItem(sku_id="sku-pre", deposit_fen=5000,
                                                     deposit_counts_as_fen=10000)],
                               balance_from=stamp(opens + timedelta(days=4)),
                               balance_until=stamp(opens + timedelta(days=6)),
                               early_access_from=stamp(NOW - timedelta(hours=1)),
                               early_access_min_rank=3,
                               release_at=stamp(opens + timedelta(days=5)),
                               unpaid_balance="keep_deposit")))
    err = refused(stub, presale, lambda s: setattr(s.presale.items[0], "deposit_counts_as_fen", 20000))
    assert violations(err) == [("spec.presale.items", "running")]
    assert edit(stub, presale, lambda s: setattr(s, "description", "金卡先享")).version == 2


def test_an_edit_of_a_template_that_changes_nothing_keeps_its_version(stub, runtime):
    made = make_template(stub)
    assert edit_template(stub, made) == made
    assert [e["change"] for e in events(runtime, "coupon.template_changed")] == ["created"]


def test_extending_a_running_sale_into_another_on_its_sku_is_refused(stub):
    running = create(stub, flash_spec(ends=NOW + timedelta(days=1)))
    later = create(stub, flash_spec(starts=NOW + timedelta(days=2), ends=NOW + timedelta(days=3),
                                    name="下一场"))
    err = refused(stub, running, lambda s: s.ends_at.CopyFrom(stamp(NOW + timedelta(days=2, hours=12))))
    assert violations(err) == [("spec.sku_ids", "overlaps")] and f"campaign {later.id}" in err.details()
    assert edit(stub, running, lambda s: s.ends_at.CopyFrom(stamp(NOW + timedelta(days=2)))).version == 2
