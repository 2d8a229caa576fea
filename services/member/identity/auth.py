"""Signing in and staying signed in: WeChat login for shoppers, password login for staff,
refresh-token rotation.

Every refusal of a credential is the same UNAUTHENTICATED message, so a caller cannot learn
whether a username exists, a password was wrong or an account is disabled.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from mall.events.v1 import member_events_pb2
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from servicekit.errors import InvalidArgument, Unauthenticated, Violations
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..models import Member, Staff
from ..wechat.login import WechatClient
from . import passwords, refresh_store, rules
from .tokens import CUSTOMER, STAFF, InvalidToken, IssuedPair, TokenIssuer

BAD_CREDENTIALS = "the username or password is wrong, or the account cannot sign in"
BAD_REFRESH = "the refresh token is invalid, expired or already used; sign in again"
CODE_MAX = 128


@dataclass(frozen=True)
class CustomerLogin:
    member: Member
    tokens: IssuedPair
    is_new: bool


@dataclass(frozen=True)
class StaffLogin:
    staff: Staff
    tokens: IssuedPair


class Auth:
    def __init__(self, runtime: Runtime, issuer: TokenIssuer, wechat: WechatClient):
        self.runtime = runtime
        self.issuer = issuer
        self.wechat = wechat

    def wechat_login(self, code: str) -> CustomerLogin:
        code = code.strip()
        if not code:
            raise InvalidArgument.field("code", "required",
                                        "the code from wx.login() in the mini-program")
        if len(code) > CODE_MAX:
            raise InvalidArgument.field("code", "max_length",
                                        f"at most {CODE_MAX} characters, as wx.login() gives it")
        identity = self.wechat.code_to_session(code)  # outside any transaction: it is a network call
        try:
            return self._sign_in_customer(identity.openid, identity.unionid)
        except IntegrityError:
            # Two first logins of the same shopper raced and the other created the member.
            return self._sign_in_customer(identity.openid, identity.unionid)

    def _sign_in_customer(self, openid: str, unionid: str | None) -> CustomerLogin:
        with self.runtime.transaction() as session:
            now = utcnow()
            member = session.scalar(select(Member).where(Member.openid == openid))
            is_new = member is None
            if member is None:
                member = Member(id=str(uuid.uuid4()), openid=openid, unionid=unionid,
                                nickname="", avatar_url="", created_at=now, last_login_at=now)
                session.add(member)
                session.flush()  # the unique openid constraint speaks here, not at commit
                self.runtime.emit(session, "member.registered", member_events_pb2.MemberRegistered(
                    member_id=member.id, channel="wechat_miniprogram",
                    registered_at=rfc3339(now), has_unionid=unionid is not None))
            else:
                member.last_login_at = now
                if unionid and not member.unionid:
                    member.unionid = unionid
            tokens = self.issuer.issue_pair(CUSTOMER, member.id)
            refresh_store.record(session, tokens)
        return CustomerLogin(member, tokens, is_new)

    def staff_login(self, username: str, password: str) -> StaffLogin:
        v = Violations()
        v.check(bool(username.strip()), "username", "required", "the staff account's username")
        v.check(bool(password), "password", "required", "the staff account's password")
        v.raise_if_any()
        with self.runtime.transaction() as session:
            staff = session.scalar(select(Staff).where(
                Staff.username == rules.normalize_username(username)))
            ok = passwords.verify_password(staff.password_hash if staff else None, password)
            if not ok or staff is None or staff.disabled:
                raise Unauthenticated(BAD_CREDENTIALS)
            if passwords.needs_rehash(staff.password_hash):
                staff.password_hash = passwords.hash_password(password)
            tokens = self.issuer.issue_pair(STAFF, staff.id, tuple(staff.roles))
            refresh_store.record(session, tokens)
        return StaffLogin(staff, tokens)

    def refresh(self, refresh_token: str) -> IssuedPair:
        if not refresh_token:
            raise InvalidArgument.field("refresh_token", "required",
                                        "the refresh token of the last sign-in or refresh")
        try:
            claims = self.issuer.decode(refresh_token, "refresh")
        except InvalidToken:
            raise Unauthenticated(BAD_REFRESH) from None
        tokens = None
        # The refusal is raised after the transaction: spending a token and revoking a replayed
        # family must be committed even when the caller is turned away.
        with self.runtime.transaction() as session:
            spent = refresh_store.spend(session, claims)
            if spent is not None:
                roles = self._current_roles(session, claims.kind, claims.sub)
                if roles is not None:
                    tokens = self.issuer.issue_pair(claims.kind, claims.sub, roles)
                    refresh_store.record(session, tokens, family_id=spent.family_id)
        if tokens is None:
            raise Unauthenticated(BAD_REFRESH)
        return tokens

    @staticmethod
    def _current_roles(session, kind: str, subject_id: str) -> tuple[str, ...] | None:
        """The roles a refreshed token carries, read now (an admin may have changed them);
        None when the account may no longer sign in."""
        if kind == CUSTOMER:
            member = session.get(Member, subject_id)
            return () if member is not None and member.deleted_at is None else None
        staff = session.get(Staff, subject_id)
        if staff is None or staff.disabled:
            return None
        return tuple(staff.roles)
