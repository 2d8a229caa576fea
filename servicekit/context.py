"""Who is calling and which request this is, carried in contextvars.

The server interceptor sets it from incoming gRPC metadata; the gateway sets it per HTTP request;
the client interceptor passes it on. Works for threads (grpc server) and asyncio (gateway).
"""
from __future__ import annotations

import contextvars
import itertools
import os
from dataclasses import dataclass, field

USER_ID = "x-mall-user-id"
ROLES = "x-mall-roles"
REQUEST_ID = "x-request-id"
IDEMPOTENCY_KEY = "idempotency-key"


# Request ids made here: a random process prefix and a counter (unique, and cheaper than uuid4,
# which is a system call per request).
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):010x}"


@dataclass(frozen=True)
class CallContext:
    request_id: str = ""
    user_id: str = ""
    roles: tuple[str, ...] = field(default_factory=tuple)
    idempotency_key: str = ""

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def metadata(self) -> list[tuple[str, str]]:
        md = [(REQUEST_ID, self.request_id or new_request_id())]
        if self.user_id:
            md.append((USER_ID, self.user_id))
        if self.roles:
            md.append((ROLES, ",".join(self.roles)))
        if self.idempotency_key:
            md.append((IDEMPOTENCY_KEY, self.idempotency_key))
        return md

    @classmethod
    def from_metadata(cls, metadata) -> "CallContext":
        md = {k: v for k, v in (metadata or ())}
        roles = tuple(r for r in md.get(ROLES, "").split(",") if r)
        return cls(request_id=md.get(REQUEST_ID, "") or new_request_id(),
                   user_id=md.get(USER_ID, ""), roles=roles,
                   idempotency_key=md.get(IDEMPOTENCY_KEY, ""))


_current: contextvars.ContextVar[CallContext] = contextvars.ContextVar("mall_call",
                                                                          default=CallContext())  # noqa: B039 (frozen)


def current() -> CallContext:
    return _current.get()


def set_current(ctx: CallContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def require_user(action: str = "this") -> CallContext:
    """The signed-in caller (shopper or staff), or UNAUTHENTICATED."""
    from .errors import Unauthenticated

    caller = current()
    if not caller.user_id:
        raise Unauthenticated(f"{action} needs a signed-in caller: send x-mall-user-id")
    return caller


def require_roles(*roles: str, action: str = "this") -> CallContext:
    """A signed-in caller holding one of `roles`, or UNAUTHENTICATED / PERMISSION_DENIED."""
    from .errors import PermissionDenied

    caller = require_user(action)
    if roles and not caller.has_role(*roles):
        raise PermissionDenied(f"{action} needs the role {' or '.join(roles)}")
    return caller


def require_self_or_roles(member_id: str, *roles: str, action: str = "this") -> CallContext:
    """The member `member_id` herself, or a caller holding one of `roles`; a shopper asking about
    another member is PERMISSION_DENIED, no member_id INVALID_ARGUMENT."""
    from .errors import InvalidArgument, PermissionDenied

    caller = require_user(action)
    if not member_id:
        raise InvalidArgument.field("member_id", "required", f"{action} needs the member's id")
    if caller.user_id == member_id or (roles and caller.has_role(*roles)):
        return caller
    raise PermissionDenied(f"{action} is only for the member herself"
                           + (f" or the role {' or '.join(roles)}" if roles else ""))
