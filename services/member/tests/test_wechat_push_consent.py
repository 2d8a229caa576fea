"""A marketing notice (support names its consent in `consent_purpose`) reaches WeChat only for a
member whose latest word in member's own consents is a grant; a transactional one always does."""
import pytest

from services.member.profile import consents
from services.member.wechat.login import WechatConfig
from services.member.wechat.pushes import PushSettings, WechatPusher
from services.member.wechat.subscribe_messages import SubscribeMessenger, Template
from standins.wechat import start_in_thread

from .test_wechat_pushes import add_member, notice, push, row

APPID, SECRET = "wxpushtest0000003", "push-test-secret-3"
REMINDER, SHIPPED = "TPL-coupon-expiring-0003", "TPL-order-shipped-0003"


@pytest.fixture
def standin():
    running = start_in_thread(APPID, SECRET, templates={REMINDER, SHIPPED})
    yield running
    running.stop()


@pytest.fixture
def pusher(standin):
    messenger = SubscribeMessenger(WechatConfig(base_url=standin.base_url, appid=APPID,
                                                secret=SECRET, timeout_seconds=2.0))
    made = WechatPusher(PushSettings(templates={"coupon_expiring": Template(REMINDER),
                                                "order_shipped": Template(SHIPPED)}), messenger)
    yield made
    made.close()


def reminder(member_id):
    return notice(member_id, kind="coupon_expiring", title="优惠券即将过期", body="满200减50 将于12月31日到期",
                  order_id="", consent_purpose="marketing")


def say(runtime, member_id, granted):
    with runtime.transaction() as s:
        consents.record(runtime, s, member_id, "marketing", granted, "miniprogram:settings")


def test_a_marketing_notice_without_consent_is_skipped_a_transactional_one_is_sent(
        member_runtime, standin, pusher):
    member_id = add_member(member_runtime, standin.standin.openid_of("fay"))
    withheld = reminder(member_id)
    assert push(member_runtime, withheld, pusher) == "skipped"  # nothing recorded: opt-in
    assert row(member_runtime, withheld.notification_id).reason == "no_marketing_consent"
    assert push(member_runtime, notice(member_id), pusher) == "sent"  # an order shipped: always
    assert [m["template_id"] for m in standin.standin.sent] == [SHIPPED]


def test_consent_lets_the_reminder_through_and_a_withdrawal_stops_the_next(member_runtime, standin,
                                                                           pusher):
    member_id = add_member(member_runtime, standin.standin.openid_of("gia"))
    say(member_runtime, member_id, True)
    assert push(member_runtime, reminder(member_id), pusher) == "sent"
    say(member_runtime, member_id, False)
    # queued before the withdrawal, handled after it: not sent
    late = reminder(member_id)
    assert push(member_runtime, late, pusher) == "skipped"
    assert row(member_runtime, late.notification_id).reason == "no_marketing_consent"
    assert [m["template_id"] for m in standin.standin.sent] == [REMINDER]
