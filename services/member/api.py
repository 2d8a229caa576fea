"""The member service's gRPC servicers: thin translations between the contract and the use cases."""
from __future__ import annotations

import ipaddress

import grpc
from mall.common.v1 import common_pb2
from mall.member.v1 import member_pb2, member_pb2_grpc

from servicekit.context import current
from servicekit.errors import PermissionDenied
from servicekit.roles import ADMIN
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import bootstrap
from .identity import accounts
from .identity.auth import Auth
from .identity.staff import StaffAdmin, StaffChanges
from .identity.tokens import IssuedPair, TokenIssuer, load_jwt_secret
from .loyalty import api as loyalty_api
from .models import Staff
from .partners import api as partner_api
from .profile import api as profile_api
from .profile.vault import default_vault
from .wechat.login import WechatClient, WechatConfig


def token_pair(pair: IssuedPair, issuer: TokenIssuer) -> member_pb2.TokenPair:
    return member_pb2.TokenPair(
        access_token=pair.access_token, refresh_token=pair.refresh_token,
        access_expires_in=int(issuer.access_ttl.total_seconds()),
        refresh_expires_in=int(issuer.refresh_ttl.total_seconds()), token_type="Bearer")


def staff_message(staff: Staff) -> member_pb2.Staff:
    return member_pb2.Staff(staff_id=staff.id, username=staff.username,
                            display_name=staff.display_name, roles=list(staff.roles),
                            disabled=staff.disabled, created_at=rfc3339(staff.created_at),
                            updated_at=rfc3339(staff.updated_at))


def customer_message(profile: accounts.CustomerProfile) -> member_pb2.Customer:
    m, h = profile.member, profile.habits
    habits = member_pb2.ShoppingHabits()
    if h is not None:
        habits = member_pb2.ShoppingHabits(
            orders_count=h.orders_count, total_paid_fen=h.total_paid_fen,
            average_order_fen=h.average_order_fen, last_order_at=rfc3339(h.last_order_at))
    return member_pb2.Customer(member_id=m.id, nickname=m.nickname, avatar_url=m.avatar_url,
                               created_at=rfc3339(m.created_at), habits=habits)


class AuthServicer(member_pb2_grpc.AuthServiceServicer):
    def __init__(self, runtime: Runtime, auth: Auth, staff: StaffAdmin, issuer: TokenIssuer):
        self.runtime = runtime
        self.auth = auth
        self.staff = staff
        self.issuer = issuer

    def WechatLogin(self, request, context):
        login = self.auth.wechat_login(request.code)
        return member_pb2.WechatLoginResponse(tokens=token_pair(login.tokens, self.issuer),
                                              member_id=login.member.id, is_new=login.is_new)

    def StaffLogin(self, request, context):
        login = self.auth.staff_login(request.username, request.password)
        return member_pb2.StaffLoginResponse(tokens=token_pair(login.tokens, self.issuer),
                                             staff=staff_message(login.staff))

    def Refresh(self, request, context):
        return member_pb2.RefreshResponse(
            tokens=token_pair(self.auth.refresh(request.refresh_token), self.issuer))

    def GetMe(self, request, context):
        with self.runtime.transaction() as session:
            account = accounts.me(session, current().user_id)
            if isinstance(account, Staff):
                return member_pb2.Me(staff=staff_message(account))
            return member_pb2.Me(customer=customer_message(account))

    def ChangePassword(self, request, context):
        tokens = self.staff.change_password(current().user_id, request.current_password,
                                            request.new_password)
        return member_pb2.ChangePasswordResponse(tokens=token_pair(tokens, self.issuer))


class StaffServicer(member_pb2_grpc.StaffServiceServicer):
    def __init__(self, runtime: Runtime, staff: StaffAdmin):
        self.runtime = runtime
        self.staff = staff

    def CreateStaff(self, request, context):
        return staff_message(self.staff.create(current().user_id, request.username,
                                               request.password, list(request.roles),
                                               request.display_name))

    def ListStaff(self, request, context):
        page = self.staff.list(current().user_id, request.page.page_size,
                               request.page.page_token, request.include_disabled)
        return member_pb2.ListStaffResponse(
            staff=[staff_message(s) for s in page.staff],
            page=common_pb2.PageInfo(next_page_token=page.next_page_token))

    def UpdateStaff(self, request, context):
        changes = StaffChanges(
            roles=list(request.roles.roles) if request.HasField("roles") else None,
            disabled=request.disabled if request.HasField("disabled") else None,
            display_name=request.display_name if request.HasField("display_name") else None)
        return staff_message(self.staff.update(current().user_id, request.staff_id, changes))

    def EnsureAdmin(self, request, context):
        if not (_is_loopback(context.peer()) and current().has_role(ADMIN)):
            raise PermissionDenied("EnsureAdmin is only for the local seed: call it from this "
                                   "machine with the admin role in x-mall-roles")
        result = bootstrap.ensure_admin(self.runtime)
        return member_pb2.EnsureAdminResponse(admin=staff_message(result.admin),
                                              created=result.created,
                                              generated_password=result.generated_password)


def _is_loopback(peer: str) -> bool:
    """gRPC peers look like "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000" or "unix:/path"."""
    if peer.startswith("unix:"):
        return True
    if peer.startswith("ipv4:"):
        host = peer[5:].rsplit(":", 1)[0]
    elif peer.startswith("ipv6:"):
        host = peer[5:].rsplit(":", 1)[0].strip("[]")
    else:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    secret = load_jwt_secret()
    issuer = TokenIssuer(secret)
    staff = StaffAdmin(runtime, issuer)
    auth = Auth(runtime, issuer, WechatClient(WechatConfig.from_env()))
    member_pb2_grpc.add_AuthServiceServicer_to_server(
        AuthServicer(runtime, auth, staff, issuer), server)
    member_pb2_grpc.add_StaffServiceServicer_to_server(StaffServicer(runtime, staff), server)
    vault = default_vault()  # keys read now: a misconfigured key ring stops the start-up
    return [member_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
            member_pb2.DESCRIPTOR.services_by_name["StaffService"].full_name,
            profile_api.register(server, runtime, vault),
            partner_api.register(server, runtime, vault),
            *loyalty_api.register(server, runtime, vault)]
