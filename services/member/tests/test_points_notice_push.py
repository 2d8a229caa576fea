"""Support's "积分已退回" notice (points_redemption_failed) reaches the shopper's WeChat like any
notice: it names no order, so its template's layout has no order-number key and no page."""
from services.member.wechat.login import WechatConfig
from services.member.wechat.pushes import PushSettings, WechatPusher, templates_from_env
from services.member.wechat.subscribe_messages import SubscribeMessenger
from standins.wechat import start_in_thread

from .test_wechat_pushes import APPID, SECRET, add_member, notice, push

RETURNED = "TPL-points-returned-01"


def test_a_points_returned_notice_is_pushed_without_an_order(member_runtime, monkeypatch):
    standin = start_in_thread(APPID, SECRET, templates={RETURNED})
    # as deploy/local/launcher.py configures it for `make run`
    monkeypatch.setenv("MALL_MEMBER_WECHAT_TEMPLATE_POINTS_REDEMPTION_FAILED", RETURNED)
    monkeypatch.setenv("MALL_MEMBER_WECHAT_TEMPLATE_POINTS_REDEMPTION_FAILED_KEYS",
                       "title=thing1,body=thing3,time=time4")
    templates = templates_from_env()
    pusher = WechatPusher(PushSettings(templates=templates, miniprogram_state="trial"),
                          SubscribeMessenger(WechatConfig(base_url=standin.base_url, appid=APPID,
                                                          secret=SECRET, timeout_seconds=2.0)))
    try:
        openid = standin.standin.openid_of("carol")
        member_id = add_member(member_runtime, openid)
        returned = notice(member_id, kind="points_redemption_failed", title="积分已退回",
                          body="您兑换的 无门槛10元券 优惠券活动已结束，兑换未成功，200 积分已退回您的账户。",
                          order_id="")
        assert push(member_runtime, returned, pusher) == "sent"
        assert push(member_runtime, returned, pusher) != "sent"  # redelivered: pushed once
        [sent] = standin.standin.sent
        assert (sent["touser"], sent["template_id"], sent.get("page", "")) == (openid, RETURNED, "")
        assert sorted(sent["data"]) == ["thing1", "thing3", "time4"]
        assert sent["data"]["thing1"] == {"value": "积分已退回"}
    finally:
        pusher.close()
        standin.stop()
