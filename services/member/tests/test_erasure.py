"""A member exports everything held on them, then deletes the account for good."""
import json

import grpc
from mall.member.v1 import member_pb2, profile_pb2
from sqlalchemy import select

from services.member.models import Address, Member, MemberProfile

from .helpers import rpc_error
from .test_privacy import CLEAR, PHONE, STREET, fill_profile, raw_dump


def test_export_holds_everything(profile_api, shopper):
    member_id, md = shopper("export")
    fill_profile(profile_api, md)
    profile_api.RecordConsent(profile_pb2.RecordConsentRequest(
        purpose="marketing", granted=True, source="miniprogram:register"), metadata=md)
    data = json.loads(profile_api.ExportMyData(profile_pb2.ExportMyDataRequest(), metadata=md).json)
    assert data["member"]["member_id"] == member_id
    assert data["profile"]["phone"] == PHONE and data["profile"]["sizes"]["bra_band"] == 75
    assert data["addresses"][0]["detail"] == STREET and data["addresses"][0]["is_default"]
    assert data["consents"][0]["granted"] is True
    assert data["points"] == {"balance": 0, "entries": []}


def test_delete_erases_personal_data_and_refuses_the_tokens(auth, profile_api, wechat,
                                                            member_runtime, relay_for, listen_for):
    deleted = listen_for("member", "member.deleted")
    relay_for("member")
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="erased~1"))
    md = [("x-mall-user-id", login.member_id)]
    fill_profile(profile_api, md)
    err = rpc_error(profile_api.DeleteMyAccount, profile_pb2.DeleteMyAccountRequest(), metadata=md)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT  # confirm is required
    assert profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md).phone == PHONE

    profile_api.DeleteMyAccount(profile_pb2.DeleteMyAccountRequest(confirm=True), metadata=md)

    event = deleted.next().envelope
    assert event["data"]["memberId"] == login.member_id
    for call, request in ((profile_api.GetProfile, profile_pb2.GetProfileRequest()),
                          (profile_api.ExportMyData, profile_pb2.ExportMyDataRequest()),
                          (auth.GetMe, member_pb2.GetMeRequest())):
        assert rpc_error(call, request, metadata=md).code() == grpc.StatusCode.UNAUTHENTICATED
    err = rpc_error(auth.Refresh, member_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert not profile_api.FindMemberByPhone(profile_pb2.FindMemberByPhoneRequest(phone=PHONE)).found

    with member_runtime.transaction() as s:
        member = s.get(Member, login.member_id)
        assert member.deleted_at is not None and member.openid == f"deleted:{member.id}"
        assert member.unionid is None
        assert s.get(MemberProfile, login.member_id) is None
        assert s.scalars(select(Address).where(Address.member_id == login.member_id)).all() == []
    dump = raw_dump(member_runtime)
    for clear in CLEAR:
        assert clear not in dump
    again = auth.WechatLogin(member_pb2.WechatLoginRequest(code="erased~2"))
    assert again.is_new and again.member_id != login.member_id  # a new, empty account
