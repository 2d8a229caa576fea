"""After-sales requests on PostgreSQL: applying (every bad field named, nothing stored), the
options before applying, quantities (open requests count), another shopper's order, the desk's
actions, logistics' and payment's events (redelivered, late, out of order), the timeouts,
notices, erasure and export."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import logistics_events_pb2 as logistics_events
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import payment_events_pb2 as payment_events
from PIL import Image
from sqlalchemy import func, select

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound
from servicekit.media_storage import LocalDiskStorage
from servicekit.testing import deliver_in_process, outbox_events
from services.support import aftersale_api, aftersales, api, eligibility, erasure
from services.support import aftersale_rules as rules
from services.support.models import AfterSale, AfterSalePhoto, Notification

SKUS = {"k-75b": "p-bra", "k-80b": "p-bra", "k-tee-m": "p-tee", "k-tee-l": "p-tee"}


def sku_products(ids):
    return {i: SKUS[i] for i in ids if i in SKUS}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 130)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def storage(tmp_path):
    return LocalDiskStorage(tmp_path / "media")


def files(storage):
    return sorted(p for p in storage.root.rglob("*") if p.is_file())


def paid(order_id="o-1", member_id="m-1", exclusive=False, tier=""):
    return order_events.OrderPaid(
        order_id=order_id, order_no=f"N{order_id}", member_id=member_id,
        exclusive_service=exclusive, member_tier=tier, lines=[
            order_events.OrderEventLine(line_id="l-bra", product_id="p-bra", sku_id="k-75b",
                                        size="75B", sku_label="75B 黑色", title="无钢圈文胸",
                                        quantity=2, paid_fen=19800, category_ids=["c-bras"]),
            order_events.OrderEventLine(line_id="l-tee", product_id="p-tee", sku_id="k-tee-m",
                                        size="M", title="T恤", quantity=1, paid_fen=9900,
                                        category_ids=["c-tops"])])


def buy(runtime, order_id="o-1", member_id="m-1", *, shipped=False, delivered_days_ago=None,
        **kw):
    with runtime.transaction() as session:
        eligibility.on_order_paid(session, paid(order_id, member_id, **kw))
        if shipped or delivered_days_ago is not None:
            aftersales.on_order_status_changed(session, order_events.OrderStatusChanged(
                order_id=order_id, member_id=member_id, to_status="shipped"))
        if delivered_days_ago is not None:
            at = datetime.now(timezone.utc) - timedelta(days=delivered_days_ago)
            eligibility.on_shipment_delivered(session, logistics_events.ShipmentChanged(
                order_id=order_id, member_id=member_id, occurred_at=at.isoformat(),
                items=[logistics_events.ShipmentItem(sku_id=s) for s in ("k-75b", "k-tee-m")]))


def set_rules(runtime, **kw):
    base = dict(intimate_category_ids=("c-bras",))
    base.update(kw)
    aftersales.update_settings(runtime, "admin-1", rules.Settings(**base))


def draft(kind="return_refund", reason="quality", lines=(("l-tee", 1, ""),), **kw):
    return aftersales.Draft(order_id=kw.pop("order_id", "o-1"), kind=kind, reason_code=reason,
                            lines=[aftersales.LineDraft(*x) for x in lines], **kw)


def apply(runtime, storage, d=None, member="m-1"):
    return aftersales.apply(runtime, storage, member, d or draft(), sku_products)


def state(runtime, request_id):
    with runtime.transaction() as session:
        r = session.get(AfterSale, request_id)
        return r.state, r.outcome


def emitted(runtime, event_type):
    return [e["data"] for e in outbox_events(runtime, event_type)]


def kinds_told(runtime, member="m-1"):
    with runtime.transaction() as session:
        return [n.kind for n in session.scalars(select(Notification).where(
            Notification.member_id == member).order_by(Notification.id))]


def test_return_refund_from_application_to_refunded(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    request = apply(runtime, storage, draft(photos=[jpeg(), jpeg()], text="开线了"))
    assert (request.state, request.refund_fen) == ("applied", 0)
    assert len(files(storage)) == 6  # two photos: original, HD, thumbnail
    applied = emitted(runtime, "aftersale.applied")
    assert [(a["kind"], a["reasonCode"], a["lines"][0]["refundFen"]) for a in applied] == [
        ("return_refund", "quality", "9900")]
    aftersales.decide(runtime, "cs-1", str(request.id), "approve", "")
    assert state(runtime, request.id) == ("awaiting_return", "")
    approved = emitted(runtime, "aftersale.approved")[0]
    assert approved["returnExpected"] and approved["freeReturnShipping"] and approved["returnBy"]
    rid = str(request.id)
    for _ in range(2):  # redelivered under another event id: nothing changes the second time
        with runtime.transaction() as session:
            aftersales.on_return_booked(runtime, session, logistics_events.ReturnBooked(
                request_id=rid, carrier="SF", waybill_no="SF1"))
    assert state(runtime, request.id) == ("returning", "")
    inspected = logistics_events.ReturnInspected(request_id=rid, accepted=True, seal_intact=True)
    for _ in range(2):
        with runtime.transaction() as session:
            aftersales.on_return_inspected(runtime, session, inspected)
    assert state(runtime, request.id) == ("refunding", "")
    asked = emitted(runtime, "aftersale.refund_requested")
    assert [(a["refundRequestId"], a["amountFen"]) for a in asked] == [(f"aftersale:{rid}", "9900")]
    refunded = payment_events.PaymentRefunded(refund_request_id=f"aftersale:{rid}", amount_fen=9900)
    for _ in range(2):
        with runtime.transaction() as session:
            aftersales.on_payment_refunded(runtime, session, refunded)
    assert state(runtime, request.id) == ("closed", "refunded")
    closed = emitted(runtime, "aftersale.closed")
    assert [(c["outcome"], c["refundedFen"]) for c in closed] == [("refunded", "9900")]
    assert kinds_told(runtime) == ["aftersale_applied", "aftersale_approved",
                                   "aftersale_refunding", "aftersale_closed"]
    assert len(emitted(runtime, "notification.created")) == 4


def test_refund_only_before_shipping_is_approved_automatically(runtime, storage):
    buy(runtime)
    request = apply(runtime, storage, draft("refund_only", "not_wanted", (("l-bra", 1, ""),)))
    assert request.state == "refunding"
    asked = emitted(runtime, "aftersale.refund_requested")
    assert [(a["amountFen"], a["requestedBy"]) for a in asked] == [("9900", "auto")]
    assert emitted(runtime, "aftersale.approved")[0]["approvedBy"] == "auto"
    set_rules(runtime, auto_approve_refund_before_shipping=False)
    second = apply(runtime, storage, draft("refund_only", "not_wanted", (("l-bra", 1, ""),)))
    assert second.state == "applied"


def test_bad_input_names_every_field_and_stores_nothing(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    bad = draft("swap", "why", [("", 0, "k-x"), ("", 1, "")], text="x" * 501,
                photos=[b"not an image"] + [jpeg()] * 6)
    with pytest.raises(InvalidArgument) as err:
        apply(runtime, storage, bad)
    assert {(v.field, v.rule) for v in err.value.violations} >= {
        ("kind", "known"), ("reason_code", "known"), ("text", "max_length"),
        ("lines[0].line_id", "required"), ("lines[1].line_id", "unique"),
        ("lines[0].quantity", "range"), ("photos", "max_items"), ("photos[0]", "image")}
    with pytest.raises(InvalidArgument) as err:
        apply(runtime, storage, draft("refund_only", "quality"))
    assert [(v.field, v.rule) for v in err.value.violations] == [("reason_code", "kind")]
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AfterSale)) == 0
    assert files(storage) == []


def test_quantities_open_requests_count_and_others_orders_do_not_exist(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    buy(runtime, "o-2", "m-2", delivered_days_ago=2)
    apply(runtime, storage, draft(lines=[("l-bra", 1, "")]))
    with pytest.raises(FailedPrecondition) as err:  # 1 of 2 left; 2 asked
        apply(runtime, storage, draft(lines=[("l-bra", 2, "")]))
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[0].quantity", "available")]
    second = apply(runtime, storage, draft(lines=[("l-bra", 1, "")]))
    with pytest.raises(FailedPrecondition) as err:  # twice for the same units
        apply(runtime, storage, draft(lines=[("l-bra", 1, "")]))
    assert ("lines[0]", "nothing_left") in [(v.field, v.rule) for v in err.value.violations]
    aftersales.withdraw(runtime, "m-1", str(second.id))  # withdrawn: its unit is free again
    apply(runtime, storage, draft(lines=[("l-bra", 1, "")]))
    with pytest.raises(NotFound):  # another shopper's order answers like none
        apply(runtime, storage, draft(order_id="o-2"))
    with pytest.raises(NotFound):
        aftersales.withdraw(runtime, "m-2", str(second.id))
    with pytest.raises(FailedPrecondition) as err:
        apply(runtime, storage, draft(lines=[("l-nope", 1, "")]))
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[0].line_id", "known")]


def test_refunded_units_are_no_longer_available(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    refund = order_events.OrderRefunded(order_id="o-1", member_id="m-1", refund_id="r-1", lines=[
        order_events.RefundedLine(line_id="l-bra", quantity=1, refunded_fen=9900)])
    for _ in range(2):  # announced twice: counted once
        with runtime.transaction() as session:
            aftersales.on_order_refunded(session, refund)
    options = {o["line"].line_id: o for o in aftersales.options(runtime, "m-1", "o-1")}
    assert (options["l-bra"]["available"], options["l-tee"]["available"]) == (1, 1)
    with pytest.raises(FailedPrecondition) as err:
        apply(runtime, storage, draft(lines=[("l-bra", 2, "")]))
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[0].quantity", "available")]
    with runtime.transaction() as session:
        aftersales.on_order_refunded(session, order_events.OrderRefunded(
            order_id="o-1", member_id="m-1", refund_id="r-2", full=True))
    options = {o["line"].line_id: o for o in aftersales.options(runtime, "m-1", "o-1")}
    assert (options["l-bra"]["available"], options["l-tee"]["available"]) == (0, 0)


def test_windows_hygiene_and_exchange_skus(runtime, storage):
    set_rules(runtime, final_sale_product_ids=("p-tee",))
    buy(runtime, delivered_days_ago=8)
    with pytest.raises(FailedPrecondition) as err:  # 8 days: past the no-reason window
        apply(runtime, storage, draft(reason="no_reason_7_days", lines=[("l-bra", 1, "")],
                                      seal_intact=True))
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[0]", "window_passed")]
    apply(runtime, storage, draft(reason="quality", lines=[("l-bra", 1, "")]))  # 15 days
    buy(runtime, "o-3", delivered_days_ago=1)
    with pytest.raises(FailedPrecondition) as err:
        apply(runtime, storage, draft(reason="wrong_size", order_id="o-3",
                                      lines=[("l-bra", 1, ""), ("l-tee", 1, "")]))
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[0]", "seal"),
                                                                  ("lines[1]", "final_sale")]
    with pytest.raises(FailedPrecondition) as err:
        apply(runtime, storage, draft("exchange", "wrong_size", order_id="o-3",
                                      lines=[("l-bra", 1, "k-tee-l")], seal_intact=True))
    assert [(v.field, v.rule) for v in err.value.violations] == [
        ("lines[0].exchange_sku_id", "same_product")]
    request = apply(runtime, storage, draft("exchange", "wrong_size", order_id="o-3",
                                            lines=[("l-bra", 1, "k-80b")], seal_intact=True))
    assert request.hygiene and request.refund_fen == 0
    # the warehouse finds the seal broken: no-reason return of intimate goods not accepted
    aftersales.decide(runtime, "cs-1", str(request.id), "approve", "")
    with runtime.transaction() as session:
        aftersales.on_return_inspected(runtime, session, logistics_events.ReturnInspected(
            request_id=str(request.id), accepted=True, seal_intact=False))
    assert state(runtime, request.id) == ("inspection_failed", "")


def test_options_show_what_she_may_apply_for_and_why_not(runtime):
    set_rules(runtime)
    buy(runtime, shipped=True)
    found = {o["line"].line_id: o for o in aftersales.options(runtime, "m-1", "o-1")}
    kinds = {k["kind"]: k for k in found["l-bra"]["kinds"]}
    assert kinds["refund_only"]["allowed"] and kinds["refund_only"]["reason_codes"] == ["not_received"]
    assert (kinds["return_refund"]["allowed"], kinds["return_refund"]["why_not"]) == (
        False, "not_delivered")
    assert kinds["repair"]["why_not"] == "not_delivered" and found["l-bra"]["intimate"]
    assert found["l-bra"]["available"] == 2
    buy(runtime, "o-4", delivered_days_ago=1)
    kinds = {k["kind"]: k for k in {o["line"].line_id: o for o in aftersales.options(
        runtime, "m-1", "o-4")}["l-bra"]["kinds"]}
    assert kinds["return_refund"]["allowed"] and kinds["return_refund"]["seal_required"]
    assert kinds["refund_only"]["why_not"] == "delivered"
    assert kinds["repair"]["why_not"] == "repair_not_offered"
    with pytest.raises(NotFound):
        aftersales.options(runtime, "m-2", "o-1")


def test_desk_refuse_photos_and_partial_refund(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    request = apply(runtime, storage, draft(lines=[("l-bra", 2, "")]))
    rid = str(request.id)
    with pytest.raises(InvalidArgument) as err:
        aftersales.decide(runtime, "cs-1", rid, "refuse", " ")
    assert [(v.field, v.rule) for v in err.value.violations] == [("note", "required")]
    aftersales.decide(runtime, "cs-1", rid, "ask_photos", "请拍摄开线处")
    assert state(runtime, request.id) == ("awaiting_photos", "")
    with pytest.raises(InvalidArgument) as err:
        aftersales.add_photos(runtime, storage, "m-1", rid, "", [])
    assert [(v.field, v.rule) for v in err.value.violations] == [("photos", "required")]
    aftersales.add_photos(runtime, storage, "m-1", rid, "补充照片", [jpeg()])
    assert state(runtime, request.id) == ("applied", "")
    aftersales.decide(runtime, "cs-1", rid, "approve", "")
    with pytest.raises(FailedPrecondition) as err:  # approved already
        aftersales.decide(runtime, "cs-1", rid, "approve", "")
    assert [(v.field, v.rule) for v in err.value.violations] == [("request_id", "state")]
    with runtime.transaction() as session:
        aftersales.on_return_inspected(runtime, session, logistics_events.ReturnInspected(
            request_id=rid, accepted=False, note="有穿着痕迹"))
    assert state(runtime, request.id) == ("inspection_failed", "")
    with pytest.raises(InvalidArgument) as err:  # more than she paid for the units
        aftersales.refund_partially(runtime, "cs-1", rid, {"l-bra": 19801}, ["l-bra"], "部分退款")
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[0].refund_fen", "range")]
    aftersales.refund_partially(runtime, "cs-1", rid, {"l-bra": 5000}, ["l-bra"], "有穿着痕迹,退一半")
    assert state(runtime, request.id) == ("refunding", "")
    assert [a["amountFen"] for a in emitted(runtime, "aftersale.refund_requested")] == ["5000"]
    assert "aftersale_photos_wanted" in kinds_told(runtime)
    assert "aftersale_inspection_failed" in kinds_told(runtime)


def test_exchange_shipped_closes_and_unavailable_tells_her(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    request = apply(runtime, storage, draft("exchange", "quality", [("l-tee", 1, "k-tee-l")]))
    rid = str(request.id)
    aftersales.decide(runtime, "cs-1", rid, "approve", "")
    with runtime.transaction() as session:
        aftersales.on_exchange_unavailable(runtime, session, logistics_events.ExchangeUnavailable(
            request_id=rid))
    assert "aftersale_exchange_unavailable" in kinds_told(runtime)
    with runtime.transaction() as session:  # shipped heard before the inspection (two queues)
        aftersales.on_exchange_shipped(runtime, session, logistics_events.ExchangeShipped(
            request_id=rid, carrier="SF", waybill_no="SF9"))
        aftersales.on_return_inspected(runtime, session, logistics_events.ReturnInspected(
            request_id=rid, accepted=True))
    assert state(runtime, request.id) == ("closed", "exchanged")


def test_timeouts_approve_unanswered_and_expire_unreturned(runtime, storage, monkeypatch):
    buy(runtime, delivered_days_ago=2)
    set_rules(runtime)
    request = apply(runtime, storage)
    later = datetime.now(timezone.utc) + timedelta(hours=49)
    assert aftersales.run_timeouts(runtime, later) == {"approved": 1, "expired": 0}
    assert state(runtime, request.id) == ("awaiting_return", "")
    assert emitted(runtime, "aftersale.approved")[0]["approvedBy"] == "auto"
    assert aftersales.run_timeouts(runtime, later) == {"approved": 0, "expired": 0}
    much_later = datetime.now(timezone.utc) + timedelta(days=8)
    assert aftersales.run_timeouts(runtime, much_later) == {"approved": 0, "expired": 1}
    assert state(runtime, request.id) == ("closed", "expired")
    assert [c["outcome"] for c in emitted(runtime, "aftersale.closed")] == ["expired"]


def test_seconds_from_settings(runtime, storage, monkeypatch):
    monkeypatch.setenv("MALL_SUPPORT_AFTERSALE_ANSWER_SECONDS", "0")
    buy(runtime, delivered_days_ago=2)
    request = apply(runtime, storage)
    assert aftersales.run_timeouts(runtime)["approved"] == 1
    assert state(runtime, request.id)[0] == "awaiting_return"


def test_priority_first_on_the_desk_and_filters(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    buy(runtime, "o-9", "m-9", delivered_days_ago=2, exclusive=True)
    plain = apply(runtime, storage)
    vip = apply(runtime, storage, draft(order_id="o-9"), member="m-9")
    with runtime.transaction() as session:
        rows = aftersales.desk_page(session, 1, None)
        assert [r.id for r in rows] == [vip.id, plain.id]
        assert [r.id for r in aftersales.desk_page(session, 1, [1, vip.id])] == [plain.id]
        assert aftersales.desk_page(session, 5, None, product_id="p-bra") == []
        assert aftersales.desk_page(session, 5, None, reason_code="wrong_size") == []
        assert aftersales.desk_page(session, 5, None, older_than_hours=1) == []


def test_redelivered_events_through_the_worker_inbox(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    request = apply(runtime, storage)
    aftersales.decide(runtime, "cs-1", str(request.id), "approve", "")
    booked = logistics_events.ReturnBooked(request_id=str(request.id), carrier="SF")
    deliver_in_process("support", "logistics", "return.booked", booked, event_id="e-1")
    deliver_in_process("support", "logistics", "return.booked", booked, event_id="e-1")
    assert state(runtime, request.id) == ("returning", "")
    deliver_in_process("support", "logistics", "return.inspected", logistics_events.ReturnInspected(
        request_id=str(request.id), accepted=True), event_id="e-2")
    deliver_in_process("support", "payment", "payment.refunded", payment_events.PaymentRefunded(
        refund_request_id="staff:1", amount_fen=1), event_id="e-3")  # not an after-sale's
    assert state(runtime, request.id) == ("refunding", "")


def test_erasure_keeps_the_books_without_her_words_and_export_lists_them(runtime, storage):
    buy(runtime, delivered_days_ago=2)
    request = apply(runtime, storage, draft(text="私人描述", photos=[jpeg()]))
    with runtime.transaction() as session:
        data = erasure.export(session, "m-1", api.notification_to_proto, None,
                              lambda s, rows: aftersale_api.requests_pb(s, rows, storage))
    assert [(a.id, a.text, a.state, len(a.photos)) for a in data.aftersales] == [
        (str(request.id), "私人描述", "applied", 1)]
    deliver_in_process("support", "member", "member.deleted",
                       member_events.MemberDeleted(member_id="m-1"), event_id="e-del")
    with runtime.transaction() as session:
        row = session.get(AfterSale, request.id)
        assert (row.text, row.note) == ("", "")
        assert session.scalar(select(func.count()).select_from(AfterSalePhoto)) == 0
