"""WeChat's shipping info from the member worker's reactions: on the real test database, the
WeChat stand-in over real HTTP, and once through a real worker process on RabbitMQ. Events come
in any order and more than once; every call WeChat answered is recorded and a refused or busy
one is tried again by the timer, never a second upload of one waybill."""
import time
import uuid
from datetime import timedelta

import pytest
from mall.events.v1 import logistics_events_pb2 as logistics
from mall.events.v1 import payment_events_pb2 as payments
from sqlalchemy import select, update

from servicekit.times import utcnow
from services.member.models import Member, WechatShippingCall
from services.member.wechat.login import WechatConfig
from services.member.wechat.openapi import WechatOpenApi
from services.member.wechat.shipping import (
    ShippingSettings,
    WechatShipper,
    deliver_due,
    record_payment,
    record_shipment,
)
from services.member.wechat.shipping_info import ShippingInfoClient
from standins.wechat import start_in_thread

APPID, SECRET = "wxshiptest0000002", "ship-test-secret-2"


@pytest.fixture
def standin():
    running = start_in_thread(APPID, SECRET)
    yield running
    running.stop()


@pytest.fixture
def shipper(standin):
    made = WechatShipper(ShippingSettings(retry_seconds=60.0), ShippingInfoClient(WechatOpenApi(
        WechatConfig(base_url=standin.base_url, appid=APPID, secret=SECRET,
                     timeout_seconds=2.0))))
    yield made
    made.close()


class Order:
    """One paid order: its member (known here), WeChat's transaction, its shipments' events."""

    def __init__(self, runtime, standin, shipments: int = 1, method: str = "wechat_jsapi"):
        self.id, self.member_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.openid = standin.openid_of(self.member_id)
        self.transaction_id = "42" + uuid.uuid4().hex[:26]
        self.shipments, self.method = shipments, method
        now = utcnow()
        with runtime.transaction() as s:
            s.add(Member(id=self.member_id, openid=self.openid, created_at=now,
                         last_login_at=now))
        standin.add_transaction(self.transaction_id, self.openid)

    def paid(self):
        return payments.PaymentSucceeded(
            payment_intent_id=str(uuid.uuid4()), order_id=self.id, member_id=self.member_id,
            amount_fen=29900, currency="CNY", method=self.method,
            provider_transaction_id=self.transaction_id if self.method == "wechat_jsapi"
            else "2026120422001400001", succeeded_at="2026-12-04T12:00:00Z")

    def shipment(self, n: int = 1, state: str = "created", waybill: str | None = "",
                 carrier: str = "sf", at: str = ""):
        return logistics.ShipmentChanged(
            shipment_id=f"{self.id}:{n}", order_id=self.id, order_no="NO20261204001",
            member_id=self.member_id, warehouse_code=f"WH{n}", carrier=carrier,
            waybill_no=f"SF{self.id[:8]}{n}" if waybill == "" else (waybill or ""),
            state=getattr(logistics, f"SHIPMENT_{state.upper()}"),
            occurred_at=at or utcnow().isoformat().replace("+00:00", "Z"),
            items=[logistics.ShipmentItem(sku_id="sku-1", title="蕾丝文胸", sku_label="75B",
                                          quantity=1)],
            shipment_count=self.shipments)


def react(runtime, shipper, order_id, record) -> None:
    """What a worker handler does: record in the inbox's transaction, then the due calls."""
    with runtime.transaction() as s:
        record(s)
        deliver_due(s, shipper, order_id=order_id)


def paid(runtime, shipper, order):
    react(runtime, shipper, order.id, lambda s: record_payment(s, order.paid()))


def shipped(runtime, shipper, order, n=1, **kw):
    react(runtime, shipper, order.id, lambda s: record_shipment(s, order.shipment(n, **kw)))


def delivered(runtime, shipper, order, n=1, **kw):
    react(runtime, shipper, order.id, lambda s: record_shipment(
        s, order.shipment(n, state="delivered", **kw), delivered=True))


def calls(runtime, order) -> dict:
    with runtime.transaction() as s:
        return {(c.kind, c.waybill_no): (c.status, c.attempts, c.last_errcode, c.last_errmsg)
                for c in s.scalars(select(WechatShippingCall)
                                   .where(WechatShippingCall.order_id == order.id))}


def sweep(runtime, shipper) -> int:
    """The timer's run, as if every back-off had passed."""
    with runtime.transaction() as s:
        s.execute(update(WechatShippingCall).where(WechatShippingCall.status == "pending")
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    with runtime.transaction() as s:
        return deliver_due(s, shipper)


def uploads_for(standin, order) -> list[dict]:
    return standin.standin.shipping_of(order.transaction_id)["uploads"]


def test_a_booked_waybill_of_a_wechat_pay_order_is_uploaded_once(member_runtime, standin,
                                                                shipper):
    order = Order(member_runtime, standin.standin)
    paid(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order)                        # redelivered
    shipped(member_runtime, shipper, order, state="picked_up")     # the carrier collected it
    [body] = uploads_for(standin, order)
    assert body["shipping_list"] == [{"tracking_no": f"SF{order.id[:8]}1", "express_company": "SF",
                                      "item_desc": "蕾丝文胸*1",
                                      "contact": {"consignor_contact": "******0000"}}]
    assert (body["delivery_mode"], body["payer"]) == (1, {"openid": order.openid})
    assert calls(member_runtime, order) == {("upload", f"SF{order.id[:8]}1"): ("done", 1, 0, "ok")}


def test_a_waybill_heard_before_the_payment_waits_for_it(member_runtime, standin, shipper):
    order = Order(member_runtime, standin.standin)
    shipped(member_runtime, shipper, order)
    assert uploads_for(standin, order) == []
    assert sweep(member_runtime, shipper) == 0  # nothing may go without WeChat's transaction
    paid(member_runtime, shipper, order)
    paid(member_runtime, shipper, order)  # redelivered
    assert len(uploads_for(standin, order)) == 1


def test_delivered_before_anything_else_still_uploads_then_reminds(member_runtime, standin,
                                                                  shipper):
    order = Order(member_runtime, standin.standin)
    delivered(member_runtime, shipper, order)  # the only event that got through, first
    shipped(member_runtime, shipper, order)
    assert standin.standin.shipping_of(order.transaction_id) == {"uploads": [], "reminders": []}
    paid(member_runtime, shipper, order)
    seen = standin.standin.shipping_of(order.transaction_id)
    assert len(seen["uploads"]) == 1
    [reminder] = seen["reminders"]
    assert reminder["transaction_id"] == order.transaction_id
    delivered(member_runtime, shipper, order)  # redelivered: no second reminder
    assert len(standin.standin.shipping_of(order.transaction_id)["reminders"]) == 1
    assert calls(member_runtime, order)[("confirm", "")][0] == "done"


def test_an_order_paid_otherwise_tells_wechat_nothing(member_runtime, standin, shipper):
    order = Order(member_runtime, standin.standin, method="alipay")
    shipped(member_runtime, shipper, order)
    paid(member_runtime, shipper, order)
    delivered(member_runtime, shipper, order)
    assert standin.standin.shipping_calls == []
    assert {status for status, *_ in calls(member_runtime, order).values()} == {"skipped"}


def test_a_split_order_says_all_delivered_with_its_last_waybill_and_is_reminded_once(
        member_runtime, standin, shipper):
    order = Order(member_runtime, standin.standin, shipments=2)
    paid(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order, 1)
    delivered(member_runtime, shipper, order, 1)
    assert standin.standin.shipping_of(order.transaction_id)["reminders"] == []
    shipped(member_runtime, shipper, order, 2, carrier="zto", waybill=f"ZT{order.id[:8]}2")
    delivered(member_runtime, shipper, order, 2, carrier="zto", waybill=f"ZT{order.id[:8]}2")
    seen = standin.standin.shipping_of(order.transaction_id)
    assert [(u["delivery_mode"], u["is_all_delivered"], u["shipping_list"][0]["express_company"])
            for u in seen["uploads"]] == [(2, False, "SF"), (2, True, "ZTO")]
    assert "contact" in seen["uploads"][1]["shipping_list"][0]  # sent for every carrier
    assert len(seen["reminders"]) == 1


def test_a_busy_wechat_is_recorded_and_tried_again_by_the_timer(member_runtime, standin,
                                                               shipper):
    order = Order(member_runtime, standin.standin)
    paid(member_runtime, shipper, order)
    standin.standin.busy_shipping = 3  # the three quick attempts of one try
    shipped(member_runtime, shipper, order)
    waybill = f"SF{order.id[:8]}1"
    status, attempts, errcode, _ = calls(member_runtime, order)[("upload", waybill)]
    assert (status, attempts, errcode) == ("pending", 1, -1)
    with member_runtime.transaction() as s:
        row = s.get(WechatShippingCall, (order.id, "upload", waybill))
        assert row.next_attempt_at > utcnow() + timedelta(seconds=50)  # backed off
        assert row.calls == 3
    with member_runtime.transaction() as s:
        assert deliver_due(s, shipper) == 0  # not before its time
    assert sweep(member_runtime, shipper) >= 1
    assert calls(member_runtime, order)[("upload", waybill)][:3] == ("done", 2, 0)
    assert len(uploads_for(standin, order)) == 1


def test_wechat_not_knowing_the_payment_yet_is_tried_again(member_runtime, standin, shipper):
    order = Order(member_runtime, standin.standin)
    standin.standin.shipping_orders.pop(order.transaction_id)  # not in WeChat's index yet
    paid(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order)
    assert calls(member_runtime, order)[("upload", f"SF{order.id[:8]}1")][:3] == \
        ("pending", 1, 10060001)
    standin.standin.add_transaction(order.transaction_id, order.openid)
    sweep(member_runtime, shipper)
    assert len(uploads_for(standin, order)) == 1


def test_a_refusal_is_recorded_failed_and_not_retried(member_runtime, standin, shipper):
    order = Order(member_runtime, standin.standin)
    standin.standin.add_transaction(order.transaction_id, "o-somebody-else")  # 10060031
    paid(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order)
    status, attempts, errcode, errmsg = calls(member_runtime, order)[
        ("upload", f"SF{order.id[:8]}1")]
    assert (status, attempts, errcode) == ("failed", 1, 10060031)
    assert "openid" in errmsg
    sweep(member_runtime, shipper)
    assert len(standin.standin.shipping_calls) == 1


def test_an_unknown_carrier_and_an_unknown_member_are_failed_without_a_call(member_runtime,
                                                                           standin, shipper):
    order = Order(member_runtime, standin.standin)
    paid(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order, carrier="pigeon")
    stranger = Order(member_runtime, standin.standin)
    stranger.member_id = str(uuid.uuid4())  # a member this database never saw
    paid(member_runtime, shipper, stranger)
    shipped(member_runtime, shipper, stranger)
    assert standin.standin.shipping_calls == []
    assert calls(member_runtime, order)[("upload", f"SF{order.id[:8]}1")][0] == "failed"
    assert calls(member_runtime, stranger)[("upload", f"SF{stranger.id[:8]}1")][0] == "failed"


def test_a_claim_left_by_a_dead_worker_is_retried_and_a_repeat_counts_done(member_runtime,
                                                                          standin, shipper):
    order = Order(member_runtime, standin.standin)
    paid(member_runtime, shipper, order)
    shipped(member_runtime, shipper, order)
    waybill = f"SF{order.id[:8]}1"
    with member_runtime.transaction() as s:  # as if the worker died after WeChat took it
        s.execute(update(WechatShippingCall).values(status="sending",
                                                    claimed_at=utcnow() - timedelta(hours=1))
                  .where(WechatShippingCall.order_id == order.id))
    with member_runtime.transaction() as s:
        deliver_due(s, shipper)
    assert calls(member_runtime, order)[("upload", waybill)][:3] == ("done", 2, 10060023)
    assert len(uploads_for(standin, order)) == 1


def test_the_worker_uploads_and_reminds_once_whatever_the_order_of_events(
        member_runtime, standin, worker_process, publish_event, wait_until):
    order = Order(member_runtime, standin.standin)
    worker_process("member", {"MALL_MEMBER_WECHAT_API_BASE": standin.base_url,
                              "MALL_MEMBER_WECHAT_APPID": APPID,
                              "MALL_MEMBER_WECHAT_SECRET": SECRET,
                              "MALL_MEMBER_WECHAT_SHIPPING_SWEEP_SECONDS": "1"})
    booked = str(uuid.uuid4())
    publish_event("logistics", "shipment.created", order.shipment(), event_id=booked)
    publish_event("logistics", "shipment.delivered", order.shipment(state="delivered"))
    publish_event("payment", "payment.succeeded", order.paid())
    publish_event("logistics", "shipment.created", order.shipment(), event_id=booked)  # again
    publish_event("logistics", "shipment.picked_up", order.shipment(state="picked_up"))
    wait_until(lambda: standin.standin.shipping_of(order.transaction_id)["reminders"],
               timeout=60, message="the receipt reminder at the stand-in")
    time.sleep(1.0)  # room for a wrong second call
    seen = standin.standin.shipping_of(order.transaction_id)
    assert [u["shipping_list"][0]["tracking_no"] for u in seen["uploads"]] == \
        [f"SF{order.id[:8]}1"]
    assert len(seen["reminders"]) == 1
