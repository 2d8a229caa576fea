"""The shipping-info client (upload_shipping_info, notify_confirm_receive) against the WeChat
stand-in over real HTTP: the documented body, each documented refusal, an expired token renewed
and the call made again, busy answers retried."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import logistics_events_pb2

from services.member.wechat.login import WechatConfig
from services.member.wechat.openapi import WechatOpenApi
from services.member.wechat.shipping_info import (
    DONE,
    FAILED,
    RETRY,
    ReceiptReminder,
    ShippingInfoClient,
    WaybillUpload,
    item_desc,
    masked_phone,
    upload_time,
)
from standins.wechat import start_in_thread

APPID, SECRET = "wxshiptest0000001", "ship-test-secret"
TRANSACTION = "4200001858202306300646157659"
AT = datetime(2026, 12, 4, 12, 0, 0, 120000, tzinfo=timezone.utc)


@pytest.fixture
def standin():
    running = start_in_thread(APPID, SECRET)
    yield running
    running.stop()


@pytest.fixture
def client(standin):
    made = ShippingInfoClient(WechatOpenApi(WechatConfig(
        base_url=standin.base_url, appid=APPID, secret=SECRET, timeout_seconds=2.0)))
    yield made
    made.api.close()


@pytest.fixture
def payer(standin):
    openid = standin.standin.openid_of("alice")
    standin.standin.add_transaction(TRANSACTION, openid)
    return openid


def upload(openid: str, **changes) -> WaybillUpload:
    made = WaybillUpload(transaction_id=TRANSACTION, openid=openid, tracking_no="SF1234567890",
                         express_company="SF", item_desc="蕾丝文胸 75B*1",
                         consignor_contact=masked_phone("4008000000"), split=False,
                         all_delivered=False, at=AT)
    return replace(made, **changes)


def test_an_upload_goes_as_wechat_documents_it(standin, client, payer):
    outcome = client.upload(upload(payer))
    assert (outcome.status, outcome.errcode, outcome.calls) == (DONE, 0, 1)
    assert standin.standin.uploads == [{
        "order_key": {"order_number_type": 2, "transaction_id": TRANSACTION},
        "logistics_type": 1, "delivery_mode": 1,
        "shipping_list": [{"tracking_no": "SF1234567890", "express_company": "SF",
                           "item_desc": "蕾丝文胸 75B*1",
                           "contact": {"consignor_contact": "******0000"}}],
        "upload_time": "2026-12-04T20:00:00.120+08:00",
        "payer": {"openid": payer}}]


def test_the_same_upload_again_is_done_since_wechat_already_has_it(standin, client, payer):
    assert client.upload(upload(payer)).status == DONE
    again = client.upload(upload(payer))
    assert (again.status, again.errcode) == (DONE, 10060023)
    assert len(standin.standin.uploads) == 1


def test_a_split_order_is_shipped_when_its_last_waybill_says_all_delivered(standin, client, payer):
    first = client.upload(upload(payer, tracking_no="SF1", split=True, all_delivered=False))
    early = client.remind_receipt(ReceiptReminder(TRANSACTION, datetime.now(timezone.utc)))
    second = client.upload(upload(payer, tracking_no="SF2", split=True, all_delivered=True))
    assert (first.status, second.status) == (DONE, DONE)
    assert (early.status, early.errcode) == (RETRY, 10060028)  # not shipped yet: later
    bodies = standin.standin.uploads
    assert [(b["delivery_mode"], b["is_all_delivered"]) for b in bodies] == [(2, False), (2, True)]
    assert [e["tracking_no"] for e in standin.standin.shipping_orders[TRANSACTION].shipping_list] \
        == ["SF1", "SF2"]


@pytest.mark.parametrize("changes, errcode", [
    ({"transaction_id": "4200009999999999999999999999"}, 10060001),  # WeChat has no such payment
    ({"item_desc": ""}, 10060008),
    ({"item_desc": "文" * 121}, 10060009),
    ({"tracking_no": ""}, 268485226),
    ({"tracking_no": "9" * 129}, 10060026),
    ({"express_company": ""}, 268485227),
    ({"express_company": "X" * 129}, 10060025),
    ({"consignor_contact": ""}, 10060014),          # SF needs a contact
    ({"consignor_contact": "4008000000"}, 10060014),  # not masked
    ({"split": True, "all_delivered": None}, 10060007),
])
def test_each_documented_refusal_of_an_upload_is_reported(standin, client, payer, changes,
                                                         errcode):
    changed = upload(payer, **changes)
    if changes.get("all_delivered", False) is None:  # WeChat refuses a split without the flag
        body = changed.body()
        del body["is_all_delivered"]
        answer = client.api.post("/wxa/sec/order/upload_shipping_info", body)
        assert answer.errcode == errcode
        return
    outcome = client.upload(changed)
    retried = {10060001}  # a payment can reach WeChat's index late: the worker tries again
    assert outcome.errcode == errcode
    assert outcome.status == (RETRY if errcode in retried else FAILED)
    assert standin.standin.uploads == []


@pytest.mark.parametrize("mutate, errcode", [
    (lambda b: b["order_key"].update(order_number_type=3), 268485194),
    (lambda b: b["order_key"].pop("transaction_id"), 268485195),
    (lambda b: b["order_key"].update(order_number_type=1, mchid="1900000109"), 268485197),
    (lambda b: b["order_key"].update(order_number_type=1, out_trade_no="NO1"), 268485196),
    (lambda b: b.update(logistics_type=9), 10060005),
    (lambda b: b.update(delivery_mode=3), 268485224),
    (lambda b: b.update(delivery_mode=2, is_all_delivered=True, logistics_type=3), 10060006),
    (lambda b: b.update(shipping_list=b["shipping_list"] * 2), 268485228),
    (lambda b: b.update(delivery_mode=2, is_all_delivered=True,
                        shipping_list=b["shipping_list"] * 16), 10060024),
    (lambda b: b.update(shipping_list=b["shipping_list"][0]), 47001),
    (lambda b: b.update(upload_time="2026-12-04 20:00:00"), 268485216),
    (lambda b: b.update(payer={}), 10060014),
    (lambda b: b.update(payer={"openid": "o-someone-else"}), 10060031),
])
def test_the_stand_in_checks_the_body_as_wechat_does(standin, client, payer, mutate, errcode):
    body = upload(payer).body()
    mutate(body)
    answer = client.api.post("/wxa/sec/order/upload_shipping_info", body)
    assert answer.errcode == errcode
    assert standin.standin.uploads == []


def test_one_reshipment_is_allowed_then_10060003(standin, client, payer):
    assert client.upload(upload(payer)).status == DONE
    assert client.upload(upload(payer, tracking_no="SF-NEW-1")).status == DONE
    third = client.upload(upload(payer, tracking_no="SF-NEW-2"))
    assert (third.status, third.errcode) == (FAILED, 10060003)


def test_an_expired_token_is_renewed_and_the_upload_made_once_more(standin, client, payer):
    assert client.upload(upload(payer, tracking_no="SF-A", split=True)).status == DONE
    standin.standin.expire_tokens()
    outcome = client.upload(upload(payer, tracking_no="SF-B", split=True, all_delivered=True))
    assert (outcome.status, outcome.calls) == (DONE, 2)  # 42001, then with a fresh token
    assert client.api.tokens.fetches == 2
    assert [c[2]["errcode"] for c in standin.standin.shipping_calls] == [0, 42001, 0]


def test_busy_is_retried_quickly_then_left_to_the_worker(standin, client, payer):
    standin.standin.busy_shipping = 2
    assert client.upload(upload(payer)).status == DONE
    standin.standin.busy_shipping = 5
    outcome = client.remind_receipt(ReceiptReminder(TRANSACTION, datetime.now(timezone.utc)))
    assert (outcome.status, outcome.errcode, outcome.calls) == (RETRY, -1, 3)


def test_the_reminder_goes_once_with_a_signing_time_after_the_shipment(standin, client, payer):
    assert client.upload(upload(payer)).status == DONE
    now = datetime.now(timezone.utc)
    before = client.remind_receipt(ReceiptReminder(TRANSACTION, now - timedelta(hours=1)))
    in_ms = client.api.post("/wxa/sec/order/notify_confirm_receive",
                            {"transaction_id": TRANSACTION,
                             "received_time": int(now.timestamp() * 1000)})
    first = client.remind_receipt(ReceiptReminder(TRANSACTION, now + timedelta(seconds=1)))
    again = client.remind_receipt(ReceiptReminder(TRANSACTION, now + timedelta(seconds=2)))
    assert (before.status, before.errcode) == (FAILED, 10060029)
    assert in_ms.errcode == 10060029  # milliseconds are not WeChat's timestamps
    assert (first.status, first.errcode) == (DONE, 0)
    assert (again.status, again.errcode) == (DONE, 10060030)  # already reminded: nothing to do
    assert standin.standin.reminders == [
        {"transaction_id": TRANSACTION, "received_time": int(now.timestamp()) + 1}]
    unknown = client.remind_receipt(ReceiptReminder("4200000000000000000000000000", now))
    assert (unknown.status, unknown.errcode) == (RETRY, 10060001)


def test_without_a_known_payment_any_well_formed_transaction_is_an_order(standin, client):
    """`make run` and the end-to-end suite: the WeChat Pay stand-in is another process."""
    openid = standin.standin.openid_of("bob")
    outcome = client.upload(upload(openid, transaction_id="42" + "a" * 26))
    assert outcome.status == DONE
    other = client.upload(upload("o-not-the-payer", transaction_id="42" + "a" * 26,
                                 tracking_no="SF-OTHER"))
    assert other.errcode == 10060031  # the first payer owns it


def test_the_values_we_fill_follow_wechats_rules():
    assert masked_phone("13812345678") == "138****5678"
    assert masked_phone("400-800-0000") == "******0000"
    assert masked_phone("021-5555") == "***5555"
    assert upload_time(AT) == "2026-12-04T20:00:00.120+08:00"
    items = [logistics_events_pb2.ShipmentItem(sku_id="s1", title="蕾丝 文胸", quantity=2),
             logistics_events_pb2.ShipmentItem(sku_id="s2", title="", quantity=1)]
    assert item_desc(items) == "蕾丝 文胸*2；s2*1"
    long = [logistics_events_pb2.ShipmentItem(sku_id="s", title="文" * 200, quantity=1)]
    assert len(item_desc(long)) == 120 and item_desc(long).endswith("…")
