"""Staff accounts: admins create, list and update them; each staff member changes their own
password. The caller's identity comes from the gateway; whether they are an enabled admin is
read from this database, so a demoted or disabled admin loses the power at once, not when their
access token expires."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from servicekit import paging
from servicekit.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Violations,
)
from servicekit.roles import ADMIN
from servicekit.runtime import Runtime
from servicekit.times import utcnow

from ..models import Staff
from . import passwords, refresh_store, rules
from .tokens import STAFF, IssuedPair, TokenIssuer

STAFF_UPDATE_LOCK = 0x6D656D62  # "memb": the advisory lock key of staff updates


@dataclass(frozen=True)
class StaffPage:
    staff: list[Staff]
    next_page_token: str


@dataclass(frozen=True)
class StaffChanges:
    roles: list[str] | None = None       # None: unchanged
    disabled: bool | None = None
    display_name: str | None = None


def require_enabled_admin(session, caller_id: str) -> Staff:
    if not caller_id:
        raise Unauthenticated("sign in as staff first")
    caller = session.get(Staff, caller_id) if _looks_like_id(caller_id) else None
    if caller is None or caller.disabled:
        raise Unauthenticated("sign in as staff first")
    if ADMIN not in caller.roles:
        raise PermissionDenied("only an admin manages staff accounts")
    return caller


def _looks_like_id(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def insert_staff(session, username: str, password: str, roles: list[str],
                 display_name: str) -> Staff:
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise AlreadyExists(f"a staff account named {username!r} already exists; "
                            "choose another username")
    now = utcnow()
    staff = Staff(id=str(uuid.uuid4()), username=username, display_name=display_name,
                  password_hash=passwords.hash_password(password), roles=roles,
                  disabled=False, created_at=now, updated_at=now)
    session.add(staff)
    try:
        session.flush()
    except IntegrityError:  # created by a concurrent request between our check and insert
        raise AlreadyExists(f"a staff account named {username!r} already exists; "
                            "choose another username") from None
    return staff


def _serialize_staff_updates(session) -> None:
    """One staff update at a time (they are rare): otherwise two admins disabling each other at
    once would each still see the other enabled, and the shop would be left with no admin.
    SQLite (make run) already serializes writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STAFF_UPDATE_LOCK})


def enabled_admins(session) -> list[Staff]:
    return [s for s in session.scalars(select(Staff).where(Staff.disabled.is_(False)))
            if ADMIN in s.roles]


class StaffAdmin:
    def __init__(self, runtime: Runtime, issuer: TokenIssuer):
        self.runtime = runtime
        self.issuer = issuer

    def create(self, caller_id: str, username: str, password: str, roles: list[str],
               display_name: str = "") -> Staff:
        username = rules.normalize_username(username)
        v = Violations()
        rules.check_username(v, username)
        rules.check_new_password(v, password)
        roles = rules.check_roles(v, roles)
        rules.check_display_name(v, display_name)
        v.raise_if_any()
        with self.runtime.transaction() as session:
            require_enabled_admin(session, caller_id)
            return insert_staff(session, username, password, roles, display_name.strip())

    def list(self, caller_id: str, size: int = 0, page_token: str = "",
             include_disabled: bool = False) -> StaffPage:
        size = paging.page_size(size)
        query_name = f"staff:{include_disabled}"
        after = (paging.decode("member", page_token, query_name) or [""])[0]
        with self.runtime.transaction() as session:
            require_enabled_admin(session, caller_id)
            query = select(Staff).where(Staff.username > after).order_by(Staff.username)
            if not include_disabled:
                query = query.where(Staff.disabled.is_(False))
            rows = list(session.scalars(query.limit(size + 1)))
        more = len(rows) > size
        rows = rows[:size]
        token = paging.encode("member", [rows[-1].username], query_name) if more else ""
        return StaffPage(rows, token)

    def update(self, caller_id: str, staff_id: str, changes: StaffChanges) -> Staff:
        v = Violations()
        v.check(_looks_like_id(staff_id), "staff_id", "format", "the staff_id of a staff account")
        roles = rules.check_roles(v, changes.roles) if changes.roles is not None else None
        if changes.display_name is not None:
            rules.check_display_name(v, changes.display_name)
        v.raise_if_any()
        with self.runtime.transaction() as session:
            _serialize_staff_updates(session)
            require_enabled_admin(session, caller_id)
            staff = session.get(Staff, staff_id, with_for_update=True)
            if staff is None:
                raise NotFound(f"no staff account with id {staff_id}")
            if roles is not None:
                staff.roles = roles
            if changes.display_name is not None:
                staff.display_name = changes.display_name.strip()
            if changes.disabled is not None and changes.disabled != staff.disabled:
                staff.disabled = changes.disabled
                if staff.disabled:
                    refresh_store.revoke_subject(session, STAFF, staff.id)
            session.flush()
            if not enabled_admins(session):
                raise FailedPrecondition("this change would leave no enabled admin; make another "
                                         "account admin first")
            staff.updated_at = utcnow()
            return staff

    def change_password(self, caller_id: str, current_password: str,
                        new_password: str) -> IssuedPair:
        v = Violations()
        v.check(bool(current_password), "current_password", "required",
                "your current password")
        rules.check_new_password(v, new_password, "new_password")
        if current_password and new_password == current_password:
            v.add("new_password", "different", "a password different from the current one")
        v.raise_if_any()
        with self.runtime.transaction() as session:
            staff = session.get(Staff, caller_id) if _looks_like_id(caller_id) else None
            ok = passwords.verify_password(staff.password_hash if staff else None,
                                           current_password)
            if not ok or staff is None or staff.disabled:
                raise Unauthenticated("the current password is wrong, or the account cannot "
                                      "sign in")
            staff.password_hash = passwords.hash_password(new_password)
            staff.updated_at = utcnow()
            # Sessions elsewhere (maybe the reason for the change) end; this one continues.
            refresh_store.revoke_subject(session, STAFF, staff.id)
            tokens = self.issuer.issue_pair(STAFF, staff.id, tuple(staff.roles))
            refresh_store.record(session, tokens)
            return tokens

