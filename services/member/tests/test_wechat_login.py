"""WeChat sign-in through the member API, against the stand-in over HTTP and the test database."""
import json

import grpc
from mall.member.v1 import member_pb2
from sqlalchemy import func, select

from servicekit.errors import violations_from_trailers
from services.member.models import Member

from .helpers import as_user, claims, rpc_error


def outbox_events(runtime, event_type):
    with runtime.transaction() as s:
        rows = s.execute(select(runtime.outbox_table.c.body)
                         .where(runtime.outbox_table.c.event_type == event_type)).scalars()
        return [json.loads(body) for body in rows]


def test_first_login_creates_the_member_and_announces_it(auth, member_runtime):
    first = auth.WechatLogin(member_pb2.WechatLoginRequest(code="amy~1"))
    assert first.is_new and first.member_id
    access = claims(first.tokens.access_token)
    assert access["sub"] == first.member_id and access["kind"] == "customer"
    assert access["type"] == "access" and "roles" not in access
    assert claims(first.tokens.refresh_token)["type"] == "refresh"
    assert first.tokens.access_expires_in == 900 and first.tokens.token_type == "Bearer"

    events = outbox_events(member_runtime, "member.registered")
    assert len(events) == 1
    assert events[0]["source"] == "member"
    assert events[0]["data"]["memberId"] == first.member_id
    assert events[0]["data"]["channel"] == "wechat_miniprogram"
    assert events[0]["data"]["hasUnionid"] is True


def test_the_same_shopper_signs_in_again_without_becoming_new(auth, member_runtime):
    first = auth.WechatLogin(member_pb2.WechatLoginRequest(code="ben~1"))
    again = auth.WechatLogin(member_pb2.WechatLoginRequest(code="ben~2"))
    assert not again.is_new and again.member_id == first.member_id
    assert len(outbox_events(member_runtime, "member.registered")) == 1


def test_the_session_key_never_reaches_the_client_nor_the_database(auth, wechat, member_runtime):
    answer = auth.WechatLogin(member_pb2.WechatLoginRequest(code="cat~1"))
    session_key = wechat.standin.session_keys[-1]
    assert session_key.encode() not in answer.SerializeToString()
    with member_runtime.transaction() as s:
        row = s.scalar(select(Member).where(Member.id == answer.member_id))
        assert session_key not in repr(vars(row))


def test_an_empty_code_is_invalid_argument(auth):
    err = rpc_error(auth.WechatLogin, member_pb2.WechatLoginRequest(code="  "))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())] == \
        [("code", "required")]


def test_refused_codes_write_nothing(auth, member_runtime):
    auth.WechatLogin(member_pb2.WechatLoginRequest(code="dora~1"))
    used = rpc_error(auth.WechatLogin, member_pb2.WechatLoginRequest(code="dora~1"))
    assert used.code() == grpc.StatusCode.UNAUTHENTICATED and "wx.login()" in used.details()
    invalid = rpc_error(auth.WechatLogin, member_pb2.WechatLoginRequest(code="invalid-xyz"))
    assert invalid.code() == grpc.StatusCode.UNAUTHENTICATED
    limited = rpc_error(auth.WechatLogin, member_pb2.WechatLoginRequest(code="ratelimited~x"))
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    risky = rpc_error(auth.WechatLogin, member_pb2.WechatLoginRequest(code="risky~x"))
    assert risky.code() == grpc.StatusCode.PERMISSION_DENIED
    with member_runtime.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 1


def test_a_busy_wechat_is_retried_and_the_login_succeeds(auth):
    assert auth.WechatLogin(member_pb2.WechatLoginRequest(code="busy1~eve")).is_new


def test_get_me_as_a_customer_shows_the_profile_with_empty_habits(auth):
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="fay~1"))
    me = auth.GetMe(member_pb2.GetMeRequest(), metadata=as_user(login.member_id))
    assert me.WhichOneof("account") == "customer"
    assert me.customer.member_id == login.member_id
    assert me.customer.created_at.endswith("Z")
    assert me.customer.habits.orders_count == 0 and me.customer.habits.last_order_at == ""


def test_get_me_without_a_known_caller_is_unauthenticated(auth):
    assert rpc_error(auth.GetMe, member_pb2.GetMeRequest()).code() == \
        grpc.StatusCode.UNAUTHENTICATED
    unknown = rpc_error(auth.GetMe, member_pb2.GetMeRequest(),
                        metadata=as_user("8d3f0b8e-6f4a-4d0e-9a55-8d0f6d9e2f11"))
    assert unknown.code() == grpc.StatusCode.UNAUTHENTICATED


def test_two_first_logins_of_one_shopper_at_once_make_one_member(auth, member_runtime):
    import threading
    barrier = threading.Barrier(2)
    answers = []

    def login(code):
        barrier.wait()
        answers.append(auth.WechatLogin(member_pb2.WechatLoginRequest(code=code)))

    threads = [threading.Thread(target=login, args=(f"race~{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 2 and answers[0].member_id == answers[1].member_id
    assert sorted(a.is_new for a in answers) == [False, True]
    assert len(outbox_events(member_runtime, "member.registered")) == 1
