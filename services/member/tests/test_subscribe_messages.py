"""The subscribe-message adapter against the stand-in over real HTTP: the token and its cache,
refusals, busy answers, and the data rules of WeChat's key types."""
from datetime import datetime, timezone

import httpx
import pytest

from services.member.wechat.login import WechatConfig
from services.member.wechat.subscribe_messages import (
    SubscribeMessage,
    SubscribeMessenger,
    Template,
    character_string,
    parse_keys,
    thing,
)
from standins.wechat import start_in_thread

APPID, SECRET = "wxpushtest0000001", "push-test-secret"
TEMPLATE = "TPL-order-shipped-0001"


@pytest.fixture
def standin():
    running = start_in_thread(APPID, SECRET, templates={TEMPLATE})
    yield running
    running.stop()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def messenger_for(base_url: str, secret: str = SECRET, clock=None) -> SubscribeMessenger:
    config = WechatConfig(base_url=base_url, appid=APPID, secret=secret, timeout_seconds=2.0)
    return SubscribeMessenger(config, clock=clock) if clock else SubscribeMessenger(config)


def message(openid: str, template_id: str = TEMPLATE, **data) -> SubscribeMessage:
    return SubscribeMessage(touser=openid, template_id=template_id,
                            data=data or {"thing1": "您的订单已发货"},
                            page="pages/order/detail?id=o-1", miniprogram_state="trial")


def test_a_message_is_sent_as_wechat_documents_it_with_one_token_for_many(standin):
    messenger = messenger_for(standin.base_url)
    openid = standin.standin.openid_of("alice")
    first = messenger.send(message(openid, thing1="已发货", character_string2="NO2026052000001"))
    second = messenger.send(message(openid))
    assert (first.status, first.errcode, first.attempts) == ("sent", 0, 1)
    assert second.status == "sent"
    assert standin.standin.token_calls == 1  # cached, not fetched per message
    assert standin.standin.sent[0] == {
        "touser": openid, "template_id": TEMPLATE, "page": "pages/order/detail?id=o-1",
        "miniprogram_state": "trial", "lang": "zh_CN",
        "data": {"thing1": {"value": "已发货"}, "character_string2": {"value": "NO2026052000001"}}}


def test_the_stable_token_endpoint_answers_as_wechat_does(standin):
    url = f"{standin.base_url}/cgi-bin/stable_token"
    ok = httpx.post(url, json={"grant_type": "client_credential", "appid": APPID, "secret": SECRET})
    again = httpx.post(url, json={"grant_type": "client_credential", "appid": APPID,
                                  "secret": SECRET}).json()
    assert set(ok.json()) == {"access_token", "expires_in"} and ok.json()["expires_in"] <= 7200
    assert again["access_token"] == ok.json()["access_token"]  # normal mode: the same token
    wrong = httpx.post(url, json={"grant_type": "client_credential", "appid": APPID,
                                  "secret": "nope"}).json()
    assert wrong["errcode"] == 40125
    send = httpx.post(f"{standin.base_url}/cgi-bin/message/subscribe/send",
                      params={"access_token": "forged"}, json={"touser": "o1"}).json()
    assert send["errcode"] == 40001


def test_a_refusal_is_reported_and_not_retried(standin):
    openid = standin.standin.openid_of("bob")
    standin.standin.refusing.add(openid)
    result = messenger_for(standin.base_url).send(message(openid))
    assert (result.status, result.errcode, result.attempts) == ("refused", 43101, 1)
    assert standin.standin.send_calls == 1 and standin.standin.sent == []


def test_an_expired_token_is_renewed_once_and_the_message_sent(standin):
    messenger = messenger_for(standin.base_url)
    openid = standin.standin.openid_of("carol")
    assert messenger.send(message(openid)).status == "sent"
    standin.standin.expire_tokens()  # WeChat ended it before our cache did
    result = messenger.send(message(openid))
    assert (result.status, result.attempts) == ("sent", 2)  # 42001, then with the new token
    assert standin.standin.token_calls == 2 and len(standin.standin.sent) == 2


def test_the_token_is_renewed_shortly_before_it_expires(standin):
    clock = FakeClock()
    messenger = messenger_for(standin.base_url, clock=clock)
    openid = standin.standin.openid_of("dan")
    messenger.send(message(openid))
    clock.now += 7200 - 301  # still more than 5 minutes left: the cached one
    messenger.send(message(openid))
    assert standin.standin.token_calls == 1
    clock.now += 2  # inside the last 5 minutes: ask again
    messenger.send(message(openid))
    assert standin.standin.token_calls == 2


def test_system_busy_is_retried_a_bounded_number_of_times(standin):
    messenger = messenger_for(standin.base_url)
    openid = standin.standin.openid_of("erin")
    standin.standin.busy_sends = 2
    assert messenger.send(message(openid)).attempts == 3
    standin.standin.busy_sends = 5
    result = messenger.send(message(openid))
    assert (result.status, result.errcode, result.attempts, result.reason) == \
        ("failed", -1, 3, "wechat_unavailable")


def test_wechat_rejections_are_failures_with_their_errcode(standin):
    messenger = messenger_for(standin.base_url)
    openid = standin.standin.openid_of("frank")
    unknown_template = messenger.send(message(openid, template_id="TPL-not-ours"))
    too_long = messenger.send(message(openid, thing1="二十一个字符" * 4))
    assert (unknown_template.status, unknown_template.errcode) == ("failed", 40037)
    assert (too_long.status, too_long.errcode) == ("failed", 47003)
    assert standin.standin.send_calls == 2  # neither retried


def test_wrong_app_credentials_fail_without_sending(standin):
    result = messenger_for(standin.base_url, secret="leaked-old-secret").send(message("o-x"))
    assert (result.status, result.errcode, result.reason, result.attempts) == \
        ("failed", 40125, "token_refused", 0)
    assert standin.standin.send_calls == 0


def test_an_unreachable_wechat_fails_after_the_retries():
    running = start_in_thread(APPID, SECRET)
    base = running.base_url
    running.stop()
    result = messenger_for(base).send(message("o-x"))
    assert (result.status, result.errcode, result.reason) == ("failed", None, "wechat_unavailable")


def test_an_answer_that_is_not_json_is_a_failure_not_a_success():
    def wechat_behind_a_broken_proxy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/stable_token":
            return httpx.Response(200, json={"access_token": "T", "expires_in": 7200})
        return httpx.Response(200, text="<html>502 Bad Gateway</html>")

    config = WechatConfig(base_url="http://wechat.invalid", appid=APPID, secret=SECRET)
    http = httpx.Client(transport=httpx.MockTransport(wechat_behind_a_broken_proxy))
    result = SubscribeMessenger(config, http=http).send(message("o-x"))
    assert (result.status, result.errcode, result.reason, result.attempts) == \
        ("failed", None, "bad_answer", 1)


def test_values_respect_wechats_limits_for_their_key_type():
    assert thing("您的订单已发货，顺丰快递单号 SF1234567890，请留意查收") == \
        "您的订单已发货，顺丰快递单号 SF12…"
    assert len(thing("x" * 40)) == 20 and thing("短\n  消息") == "短 消息" and thing("") == "-"
    order_id = "3f2c1a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b"
    assert character_string(order_id) == "3f2c1a9e6b7d4e8f9a0b1c2d3e4f5a6b"  # 32, dashes gone
    assert character_string("NO-2026-001") == "NO-2026-001"  # short ones keep them
    assert character_string("单号A1 2") == "A12"
    data = Template(TEMPLATE).data(title="订单已发货", body="包裹已从广州仓发出", order=order_id,
                                   at=datetime(2026, 5, 20, 16, 5, tzinfo=timezone.utc))
    assert data == {"thing1": "订单已发货", "character_string2": "3f2c1a9e6b7d4e8f9a0b1c2d3e4f5a6b",
                    "thing3": "包裹已从广州仓发出", "time4": "2026-05-21 00:05"}  # Shanghai, next day


def test_a_templates_own_key_layout_is_parsed_and_checked():
    keys = parse_keys("order=character_string1, time=date5,title=thing2")
    assert keys == {"order": "character_string1", "time": "date5", "title": "thing2"}
    data = Template("T", keys).data(title="已签收", body="", order="NO1",
                                    at=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    assert data["date5"] == "2026年01月02日 11:04"
    for bad in ("price=amount1", "title=time4", "title=phrase3", ""):
        with pytest.raises(ValueError):
            parse_keys(bad)
