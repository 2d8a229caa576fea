"""SF's Fengqiao signature: Base64(MD5(urlencode(msgData + timestamp + checkWord))), and the
checks a push must pass: the digest matches, the timestamp is recent."""
import base64
import hashlib
import json
import time
from urllib.parse import quote_plus, urlencode

import pytest

from services.logistics import fengqiao

CHECKWORD = "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci"


def test_the_digest_follows_sfs_documented_rule():
    msg = '{"language":"zh-CN","orderId":"QIAO-20200618-004"}'
    stamp = "1592450000000"
    by_hand = base64.b64encode(hashlib.md5(quote_plus(msg + stamp + CHECKWORD)
                                           .encode("utf-8")).digest()).decode()
    assert fengqiao.digest(msg, stamp, CHECKWORD) == by_hand
    assert fengqiao.digest(msg, stamp, CHECKWORD) != fengqiao.digest(msg, stamp, "other")


def test_a_signed_form_verifies_after_travelling_as_a_url_encoded_body():
    form = fengqiao.signed_form("MALLSF", fengqiao.ROUTE_PUSH,
                                {"WaybillRoute": [{"mailno": "SF1", "remark": "已签收 & 好评+1"}]},
                                CHECKWORD)
    travelled = fengqiao.parse_form(urlencode(form).encode())
    assert fengqiao.verify(travelled, CHECKWORD, 300)["WaybillRoute"][0]["remark"] == "已签收 & 好评+1"


@pytest.mark.parametrize("tamper,why", [
    (lambda f: f.update(msgDigest="AAAA" + f["msgDigest"][4:]), "does not match"),
    (lambda f: f.update(msgData=f["msgData"].replace("SF1", "SF2")), "does not match"),
    (lambda f: f.update(timestamp=str(int(f["timestamp"]) + 1)), "does not match"),
    (lambda f: f.pop("msgDigest"), "missing"),
    (lambda f: f.update(timestamp="soon"), "not a number"),
])
def test_a_tampered_push_is_refused(tamper, why):
    form = fengqiao.signed_form("MALLSF", fengqiao.ROUTE_PUSH,
                                {"WaybillRoute": [{"mailno": "SF1"}]}, CHECKWORD)
    tamper(form)
    with pytest.raises(fengqiao.SignatureError, match=why):
        fengqiao.verify(form, CHECKWORD, 300)


def test_a_stale_or_future_timestamp_is_refused_even_when_correctly_signed():
    for offset in (-301, 301):
        form = fengqiao.signed_form("MALLSF", fengqiao.ROUTE_PUSH, {}, CHECKWORD,
                                    now=time.time() + offset)
        with pytest.raises(fengqiao.SignatureError, match="away from now"):
            fengqiao.verify(form, CHECKWORD, 300)
    seconds = str(int(time.time()))  # some SF clients send seconds, not milliseconds
    body = json.dumps({})
    assert fengqiao.verify({"timestamp": seconds, "msgData": body,
                            "msgDigest": fengqiao.digest(body, seconds, CHECKWORD)},
                           CHECKWORD, 300) == {}


def test_routes_are_read_in_utc_with_their_normalised_state():
    routes = fengqiao.routes_of_push({"WaybillRoute": [
        {"mailno": "SF1", "opCode": "80", "acceptTime": "2026-11-23 20:00:00",
         "acceptAddress": "深圳", "remark": "已签收", "id": "r1"},
        {"mailno": "SF1", "opCode": "607", "acceptTime": "2026-11-23 08:00:00"}]})
    assert [(r.state, r.accepted_at.isoformat()) for r in routes] == [
        ("delivered", "2026-11-23T12:00:00+00:00"), (None, "2026-11-23T00:00:00+00:00")]
