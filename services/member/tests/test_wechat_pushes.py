"""Support's notices pushed as WeChat subscribe messages: on the real test database, the stand-in
over real HTTP, and once through a real worker process on RabbitMQ."""
import itertools
import logging
import time
import uuid

import pytest
from mall.events.v1 import support_events_pb2
from sqlalchemy import select

from servicekit.times import utcnow
from services.member.models import Member, WechatPush
from services.member.wechat.login import WechatConfig
from services.member.wechat.pushes import PushSettings, WechatPusher, push_notification
from services.member.wechat.subscribe_messages import SubscribeMessenger, Template
from standins.wechat import start_in_thread

APPID, SECRET = "wxpushtest0000002", "push-test-secret-2"
SHIPPED, PAID = "TPL-order-shipped-0002", "TPL-order-paid-0002"
ORDER_ID = "3f2c1a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b"
_ids = itertools.count(int(time.time()) * 1000)


@pytest.fixture
def standin():
    running = start_in_thread(APPID, SECRET, templates={SHIPPED, PAID})
    yield running
    running.stop()


@pytest.fixture
def pusher(standin):
    messenger = SubscribeMessenger(WechatConfig(base_url=standin.base_url, appid=APPID,
                                                secret=SECRET, timeout_seconds=2.0))
    made = WechatPusher(PushSettings(templates={"order_shipped": Template(SHIPPED),
                                                "order_paid": Template(PAID)},
                                     miniprogram_state="trial"), messenger)
    yield made
    made.close()


def add_member(runtime, openid: str, *, deleted: bool = False) -> str:
    member_id, now = str(uuid.uuid4()), utcnow()
    with runtime.transaction() as s:
        s.add(Member(id=member_id, openid=openid, created_at=now, last_login_at=now,
                     deleted_at=now if deleted else None))
    return member_id


def notice(member_id: str, kind: str = "order_shipped", **fields):
    values = {"notification_id": next(_ids), "member_id": member_id, "kind": kind,
              "title": "您的订单已发货", "body": "订单 NO2026052000017 已由顺丰发出，请留意查收包裹",
              "order_id": ORDER_ID, "created_at": "2026-05-20T12:34:56Z", **fields}
    return support_events_pb2.NotificationCreated(**values)


def push(runtime, notification, pusher) -> str:
    with runtime.transaction() as s:
        return push_notification(s, notification, pusher)


def row(runtime, notification_id) -> WechatPush:
    with runtime.transaction() as s:
        return s.scalar(select(WechatPush).where(WechatPush.notification_id == notification_id))


def test_a_notice_is_pushed_with_the_templates_data(member_runtime, standin, pusher):
    openid = standin.standin.openid_of("alice")
    member_id = add_member(member_runtime, openid)
    shipped = notice(member_id)
    assert push(member_runtime, shipped, pusher) == "sent"
    assert standin.standin.sent == [{
        "touser": openid, "template_id": SHIPPED, "miniprogram_state": "trial", "lang": "zh_CN",
        "page": f"pages/order/detail?id={ORDER_ID}",
        "data": {"thing1": {"value": "您的订单已发货"},
                 "character_string2": {"value": ORDER_ID.replace("-", "")},
                 "thing3": {"value": "订单 NO2026052000017 …"},  # cut to 20 characters
                 "time4": {"value": "2026-05-20 20:34"}}}]  # Shanghai time
    pushed = row(member_runtime, shipped.notification_id)
    assert (pushed.status, pushed.errcode, pushed.attempts, pushed.template_id, pushed.member_id,
            pushed.kind) == ("sent", 0, 1, SHIPPED, member_id, "order_shipped")
    assert pushed.finished_at is not None


def test_a_refusal_is_recorded_and_never_retried(member_runtime, standin, pusher):
    openid = standin.standin.openid_of("bob")
    standin.standin.refusing.add(openid)
    refused = notice(add_member(member_runtime, openid))
    assert push(member_runtime, refused, pusher) == "refused"
    assert push(member_runtime, refused, pusher) == "duplicate"  # redelivered: no second call
    pushed = row(member_runtime, refused.notification_id)
    assert (pushed.status, pushed.errcode, pushed.attempts, pushed.reason) == \
        ("refused", 43101, 1, "not_subscribed")
    assert standin.standin.send_calls == 1 and standin.standin.sent == []


def test_an_expired_token_is_renewed_once(member_runtime, standin, pusher):
    member_id = add_member(member_runtime, standin.standin.openid_of("carol"))
    assert push(member_runtime, notice(member_id, kind="order_paid"), pusher) == "sent"
    standin.standin.expire_tokens()
    later = notice(member_id)
    assert push(member_runtime, later, pusher) == "sent"
    assert row(member_runtime, later.notification_id).attempts == 2  # 42001, then sent
    assert standin.standin.token_calls == 2 and len(standin.standin.sent) == 2


def test_a_kind_without_a_template_is_skipped(member_runtime, standin, pusher):
    delivered = notice(add_member(member_runtime, standin.standin.openid_of("dan")),
                       kind="order_delivered")
    assert push(member_runtime, delivered, pusher) == "skipped"
    pushed = row(member_runtime, delivered.notification_id)
    assert (pushed.status, pushed.reason, pushed.attempts) == ("skipped", "no_template", 0)
    assert standin.standin.send_calls == 0 and standin.standin.token_calls == 0


def test_unknown_and_deleted_members_are_skipped(member_runtime, standin, pusher):
    unknown = notice("imported-member-42")
    deleted = notice(add_member(member_runtime, "deleted:erin", deleted=True))
    assert push(member_runtime, unknown, pusher) == "skipped"
    assert push(member_runtime, deleted, pusher) == "skipped"
    assert row(member_runtime, unknown.notification_id).reason == "unknown_member"
    assert row(member_runtime, deleted.notification_id).reason == "member_deleted"
    assert standin.standin.send_calls == 0


def test_a_redelivered_notice_is_pushed_once(member_runtime, standin, pusher):
    member_id = add_member(member_runtime, standin.standin.openid_of("frank"))
    shipped = notice(member_id)
    assert push(member_runtime, shipped, pusher) == "sent"
    assert push(member_runtime, shipped, pusher) == "duplicate"
    assert len(standin.standin.sent) == 1


def test_a_push_cut_off_mid_call_is_not_repeated(member_runtime, standin, pusher):
    """A worker killed while WeChat answered leaves the committed `sending` claim: the
    redelivery must not push again, since the first may have reached the shopper."""
    member_id = add_member(member_runtime, standin.standin.openid_of("grace"))
    shipped = notice(member_id)
    with member_runtime.transaction() as s:
        s.add(WechatPush(notification_id=shipped.notification_id, member_id=member_id,
                         kind="order_shipped", status="sending", template_id=SHIPPED,
                         created_at=utcnow()))
    assert push(member_runtime, shipped, pusher) == "duplicate"
    assert standin.standin.send_calls == 0


def test_a_busy_wechat_is_retried_then_recorded_failed(member_runtime, standin, pusher):
    member_id = add_member(member_runtime, standin.standin.openid_of("heidi"))
    standin.standin.busy_sends = 10
    busy = notice(member_id)
    assert push(member_runtime, busy, pusher) == "failed"
    pushed = row(member_runtime, busy.notification_id)
    assert (pushed.status, pushed.errcode, pushed.attempts, pushed.reason) == \
        ("failed", -1, 3, "wechat_unavailable")


def test_no_openid_in_the_logs(member_runtime, standin, pusher, caplog):
    sent_to, refusing = standin.standin.openid_of("ivan"), standin.standin.openid_of("judy")
    standin.standin.refusing.add(refusing)
    caplog.set_level(logging.DEBUG)
    push(member_runtime, notice(add_member(member_runtime, sent_to)), pusher)
    push(member_runtime, notice(add_member(member_runtime, refusing)), pusher)
    assert "notification" in caplog.text  # it did log
    assert sent_to not in caplog.text and refusing not in caplog.text
    assert "access_token=" not in caplog.text


def test_templates_and_their_keys_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MALL_MEMBER_WECHAT_TEMPLATE_ORDER_SHIPPED", SHIPPED)
    monkeypatch.setenv("MALL_MEMBER_WECHAT_TEMPLATE_ORDER_REFUNDED", "TPL-refund")
    monkeypatch.setenv("MALL_MEMBER_WECHAT_TEMPLATE_ORDER_REFUNDED_KEYS",
                       "order=character_string1,title=thing2,time=date3")
    monkeypatch.setenv("MALL_MEMBER_WECHAT_MINIPROGRAM_STATE", "developer")
    settings = PushSettings.from_env()
    assert settings.templates["order_shipped"] == Template(SHIPPED)
    assert settings.templates["order_refunded"].keys == {"order": "character_string1",
                                                         "title": "thing2", "time": "date3"}
    assert set(settings.templates) == {"order_shipped", "order_refunded"}
    assert settings.miniprogram_state == "developer"
    monkeypatch.setenv("MALL_MEMBER_WECHAT_MINIPROGRAM_STATE", "production")
    with pytest.raises(ValueError):
        PushSettings.from_env()


def test_the_worker_pushes_a_published_notice_once(member_runtime, standin, worker_process,
                                                   publish_event, wait_until):
    openid = standin.standin.openid_of("kate")
    member_id = add_member(member_runtime, openid)
    worker = worker_process("member", {"MALL_MEMBER_WECHAT_API_BASE": standin.base_url,
                              "MALL_MEMBER_WECHAT_APPID": APPID,
                              "MALL_MEMBER_WECHAT_SECRET": SECRET,
                              "MALL_MEMBER_WECHAT_TEMPLATE_ORDER_SHIPPED": SHIPPED})
    shipped = notice(member_id)
    event_id = str(uuid.uuid4())
    publish_event("support", "notification.created", shipped, event_id=event_id)
    publish_event("support", "notification.created", shipped, event_id=event_id)  # redelivered
    publish_event("support", "notification.created", shipped)  # announced again, a new event id
    wait_until(lambda: standin.standin.sent, timeout=20, message="the push at the stand-in")
    wait_until(lambda: row(member_runtime, shipped.notification_id).status == "sent", timeout=10,
               message="the push recorded as sent")
    time.sleep(1.0)  # room for a wrong second push to arrive
    assert [m["touser"] for m in standin.standin.sent] == [openid]
    assert standin.standin.sent[0]["data"]["time4"] == {"value": "2026-05-20 20:34"}
    assert f"notification {shipped.notification_id}" in worker.log()
    assert openid not in worker.log()


def test_the_order_number_the_shopper_knows_is_shown_when_support_sends_it(member_runtime, standin,
                                                                          pusher):
    member_id = add_member(member_runtime, standin.standin.openid_of("olivia"))
    assert push(member_runtime, notice(member_id, order_no="20261124000042"), pusher) == "sent"
    assert standin.standin.sent[-1]["data"]["character_string2"] == {"value": "20261124000042"}
