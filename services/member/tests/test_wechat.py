"""The jscode2session adapter against the stand-in, over real HTTP."""
import httpx
import pytest

from servicekit.errors import PermissionDenied, ResourceExhausted, Unauthenticated
from services.member.wechat.login import WechatClient, WechatConfig, WechatRejectedUs, WechatUnavailable
from standins.wechat import start_in_thread

APPID, SECRET = "wxtest0000000001", "test-secret"


@pytest.fixture
def standin():
    running = start_in_thread(APPID, SECRET)
    yield running
    running.stop()


def client_for(base_url: str, appid: str = APPID, secret: str = SECRET) -> WechatClient:
    return WechatClient(WechatConfig(base_url=base_url, appid=appid, secret=secret,
                                     timeout_seconds=2.0))


def test_a_code_gives_the_shoppers_openid_and_unionid_but_no_session_key(standin):
    client = client_for(standin.base_url)
    first = client.code_to_session("alice~1")
    again = client.code_to_session("alice~2")
    other = client.code_to_session("bob~1")
    assert first.openid == again.openid and first.openid.startswith("o")
    assert len(first.openid) == 28
    assert first.unionid and first.unionid == again.unionid
    assert other.openid != first.openid
    assert not hasattr(first, "session_key")


def test_the_standin_answers_raw_http_as_wechat_does(standin):
    url = f"{standin.base_url}/sns/jscode2session"
    ok = httpx.get(url, params={"appid": APPID, "secret": SECRET, "js_code": "carol",
                                "grant_type": "authorization_code"})
    assert ok.status_code == 200 and ok.headers["content-type"] == "text/plain"
    assert set(ok.json()) == {"openid", "session_key", "unionid"}
    used = httpx.get(url, params={"appid": APPID, "secret": SECRET, "js_code": "carol",
                                  "grant_type": "authorization_code"}).json()
    assert used["errcode"] == 40163 and used["errmsg"].startswith("code been used")
    wrong_secret = httpx.get(url, params={"appid": APPID, "secret": "nope", "js_code": "dan",
                                          "grant_type": "authorization_code"}).json()
    assert wrong_secret["errcode"] == 40125


def test_a_code_used_twice_is_refused(standin):
    client = client_for(standin.base_url)
    client.code_to_session("erin")
    with pytest.raises(Unauthenticated, match="already used"):
        client.code_to_session("erin")


@pytest.mark.parametrize("code, error", [("invalid-123", Unauthenticated),
                                         ("ratelimited-1", ResourceExhausted),
                                         ("risky-1", PermissionDenied)])
def test_wechat_refusals_map_to_domain_errors(standin, code, error):
    with pytest.raises(error):
        client_for(standin.base_url).code_to_session(code)


def test_system_busy_is_retried_a_bounded_number_of_times(standin):
    client = client_for(standin.base_url)
    calls_before = standin.standin.calls
    assert client.code_to_session("busy2~frank").openid
    assert standin.standin.calls - calls_before == 3
    calls_before = standin.standin.calls
    with pytest.raises(WechatUnavailable):
        client.code_to_session("busy5~grace")
    assert standin.standin.calls - calls_before == 3  # gave up after three attempts


def test_wrong_app_credentials_are_our_problem_not_the_shoppers(standin):
    with pytest.raises(WechatRejectedUs):
        client_for(standin.base_url, secret="leaked-old-secret").code_to_session("heidi")


def test_an_unreachable_wechat_is_unavailable():
    running = start_in_thread(APPID, SECRET)
    base = running.base_url
    running.stop()
    with pytest.raises(WechatUnavailable):
        client_for(base).code_to_session("ivan")
