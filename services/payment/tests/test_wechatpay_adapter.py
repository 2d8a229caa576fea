"""The WeChat Pay adapter against the stand-in, at the HTTP level: requests are signed as WeChat
verifies them, answers are verified as WeChat signs them."""
import dataclasses
import json
import time

import httpx
import pytest

from services.payment import credentials
from services.payment.providers import PrepayRequest, ProviderError
from services.payment.providers import wechatpay_protocol as protocol
from services.payment.providers.wechatpay import WechatPay


@pytest.fixture
def wechat_credentials(providers):
    return credentials.WechatPayCredentials.load()


def test_the_stand_in_refuses_unsigned_or_missigned_requests(providers):
    body = json.dumps({"mchid": providers.wechatpay.keys.mchid})
    unsigned = httpx.post(providers.wechatpay_url + "/v3/pay/transactions/jsapi", content=body)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "SIGN_ERROR"
    other_key = protocol.load_private_key(
        (credentials.key_dir() / "alipay_app_private.pem").read_text())  # any key but the merchant's
    auth = protocol.authorization(mchid=providers.wechatpay.keys.mchid,
                                  serial_no=providers.wechatpay.keys.merchant_serial, private_key=other_key,
                                  method="POST", path="/v3/pay/transactions/jsapi", body=body,
                                  timestamp=str(int(time.time())), nonce_str=protocol.nonce())
    forged = httpx.post(providers.wechatpay_url + "/v3/pay/transactions/jsapi", content=body,
                        headers={"Authorization": auth})
    assert forged.status_code == 401 and "merchant's public key" in forged.json()["message"]


def test_an_answer_signed_by_an_unknown_platform_key_is_not_believed(providers, wechat_credentials):
    stranger = WechatPay(dataclasses.replace(wechat_credentials, platform_public_keys={
        "PUB_KEY_ID_OTHER": (credentials.key_dir() / "alipay_public.pem").read_text()}))
    with pytest.raises(ProviderError) as err:
        stranger.prepay(PrepayRequest("t" * 32, 100, "测试", payer_openid="o-1"))
    assert err.value.code == "SIGN_ERROR" and "unknown Wechatpay-Serial" in str(err.value)


def test_query_close_and_an_unknown_trade(providers, wechat_credentials):
    adapter = WechatPay(wechat_credentials)
    adapter.prepay(PrepayRequest("q" * 32, 990, "测试", payer_openid="o-1"))
    trade = adapter.query("q" * 32)
    assert (trade.state, trade.provider_state, trade.amount_fen) == ("open", "NOTPAY", 990)
    adapter.close("q" * 32)
    assert adapter.query("q" * 32).state == "closed"
    assert adapter.query("n" * 32).provider_state == "ORDER_NOT_EXIST"
    with pytest.raises(ProviderError) as err:
        adapter.refund(out_trade_no="q" * 32, out_refund_no="r1", amount_fen=1, total_fen=990, reason="")
    assert err.value.code == "RESOURCE_NOT_EXISTS" and not err.value.retryable
