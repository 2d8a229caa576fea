"""Refresh-token rotation: each refresh token works once; a replay ends the whole family."""
import grpc
from mall.member.v1 import member_pb2

from .helpers import claims, rpc_error


def refresh(auth, token):
    return auth.Refresh(member_pb2.RefreshRequest(refresh_token=token)).tokens


def test_refresh_rotates_and_the_old_token_is_refused(auth):
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="gus~1"))
    rotated = refresh(auth, login.tokens.refresh_token)
    assert rotated.refresh_token != login.tokens.refresh_token
    assert claims(rotated.access_token)["sub"] == login.member_id
    assert refresh(auth, rotated.refresh_token).refresh_token  # the successor works once
    assert rpc_error(refresh, auth, login.tokens.refresh_token).code() == \
        grpc.StatusCode.UNAUTHENTICATED


def test_replaying_a_spent_token_revokes_the_family(auth):
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="hal~1"))
    stolen = login.tokens.refresh_token
    current = refresh(auth, stolen)                 # the owner refreshes
    rpc_error(refresh, auth, stolen)                # someone replays the old one
    err = rpc_error(refresh, auth, current.refresh_token)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED  # the owner signs in again
    # Another sign-in of the same shopper is a different family and is unaffected.
    other = auth.WechatLogin(member_pb2.WechatLoginRequest(code="hal~2"))
    refresh(auth, other.tokens.refresh_token)


def test_an_access_token_or_garbage_is_no_refresh_token(auth):
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="ida~1"))
    assert rpc_error(refresh, auth, login.tokens.access_token).code() == \
        grpc.StatusCode.UNAUTHENTICATED
    assert rpc_error(refresh, auth, "garbage").code() == grpc.StatusCode.UNAUTHENTICATED
    assert rpc_error(refresh, auth, "").code() == grpc.StatusCode.INVALID_ARGUMENT


def test_refreshed_staff_tokens_carry_the_current_roles(auth, staff_api, admin):
    _, _, admin_md = admin
    staff_api.CreateStaff(member_pb2.CreateStaffRequest(
        username="joan", password="jo-password-1", roles=["operator"]), metadata=admin_md)
    login = auth.StaffLogin(member_pb2.StaffLoginRequest(username="joan", password="jo-password-1"))
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(
        staff_id=login.staff.staff_id, roles=member_pb2.StaffRoles(roles=["operator", "analyst"])),
        metadata=admin_md)
    assert claims(refresh(auth, login.tokens.refresh_token).access_token)["roles"] == \
        ["operator", "analyst"]


def test_a_disabled_staff_account_can_no_longer_refresh(auth, staff_api, admin):
    _, _, admin_md = admin
    made = staff_api.CreateStaff(member_pb2.CreateStaffRequest(
        username="kim", password="kim-password-1", roles=["cs_agent"]), metadata=admin_md)
    login = auth.StaffLogin(member_pb2.StaffLoginRequest(username="kim",
                                                         password="kim-password-1"))
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=made.staff_id, disabled=True),
                          metadata=admin_md)
    assert rpc_error(refresh, auth, login.tokens.refresh_token).code() == \
        grpc.StatusCode.UNAUTHENTICATED
    # Enabling the account again does not bring the old session back.
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=made.staff_id, disabled=False),
                          metadata=admin_md)
    assert rpc_error(refresh, auth, login.tokens.refresh_token).code() == \
        grpc.StatusCode.UNAUTHENTICATED
