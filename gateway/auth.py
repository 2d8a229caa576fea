"""Who is calling: verifies the member service's JWTs (HS256, PyJWT) and checks kinds and roles.

Claims (services/member/README.md): sub, kind customer|staff, roles, type access|refresh, jti,
iat, exp. Only access tokens open routes; a refresh token is only ever sent to /v1/auth/refresh.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit import context
from servicekit.config import env, var_dir

from .problems import Problem

ALGORITHM = "HS256"

_secret: bytes | None = None


def jwt_secret() -> bytes:
    """MALL_JWT_SECRET, else the dev secret the member service wrote to var/jwt_secret (the same
    rule as the member service). Read lazily: under `make run` member may write it after we start."""
    global _secret
    if _secret is None:
        value = env("JWT_SECRET")
        if value is None:
            path = var_dir() / "jwt_secret"
            if not path.exists():
                raise Problem(503, "auth-unavailable",
                              "sign-in is not configured yet (no JWT secret); try again shortly",
                              headers={"Retry-After": "1"})
            value = path.read_text().strip()
        _secret = value.encode()
    return _secret


def reset_secret_cache() -> None:
    global _secret
    _secret = None


@dataclass(frozen=True)
class Principal:
    user_id: str
    kind: str               # customer | staff
    roles: tuple[str, ...]


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


def verify_access_token(token: str) -> Principal:
    try:
        claims = jwt.decode(token, jwt_secret(), algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise _unauthenticated("the access token has expired; refresh it") from None
    except jwt.InvalidTokenError:
        raise _unauthenticated("the access token is not valid") from None
    if claims.get("type") != "access":
        raise _unauthenticated("an access token is needed (this is not one)")
    kind = claims.get("kind")
    if kind not in ("customer", "staff"):
        raise _unauthenticated("the access token names no known kind of account")
    roles = claims.get("roles") or []
    if not isinstance(roles, list):
        raise _unauthenticated("the access token's roles are malformed")
    return Principal(str(claims["sub"]), kind, tuple(str(r) for r in roles))


_bearer = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT",
                     description="An access token from /v1/auth/wechat-login "
                     "(shoppers) or /v1/admin/auth/login (staff)")


async def _principal(request: Request,
               credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthenticated("this route needs a bearer access token")
    principal = verify_access_token(credentials.credentials)
    request.state.principal = principal
    # The services see who is calling through the call context's metadata. Async on purpose:
    # the contextvar set here is the request task's, which the endpoint's gRPC calls read.
    ctx = context.current()
    context.set_current(context.CallContext(request_id=ctx.request_id, user_id=principal.user_id,
                                            roles=principal.roles,
                                            idempotency_key=ctx.idempotency_key))
    return principal


async def optional_customer(request: Request,
                            credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
                            ) -> Principal | None:
    """A shopper when a valid bearer token is sent, None for a guest (no token, or one that no
    longer verifies: a public route answers as it would without it): for routes anyone may read
    that say more to a signed-in shopper."""
    if credentials is None:
        return None
    try:
        principal = await _principal(request, credentials)
    except Problem:
        return None
    return principal if principal.kind == "customer" else None


async def customer(principal: Principal = Depends(_principal)) -> Principal:
    if principal.kind != "customer":
        raise Problem(403, "permission-denied", "this route is for shoppers' accounts")
    return principal


async def any_staff(principal: Principal = Depends(_principal)) -> Principal:
    if principal.kind != "staff":
        raise Problem(403, "permission-denied", "this route is for staff accounts")
    return principal


def staff(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits staff holding any of `roles` (servicekit.roles)."""

    async def check(principal: Principal = Depends(_principal)) -> Principal:
        if principal.kind != "staff":
            raise Problem(403, "permission-denied", "this route is for staff accounts")
        if not any(r in principal.roles for r in roles):
            raise Problem(403, "permission-denied",
                          f"this route needs one of the roles: {', '.join(roles)}")
        return principal

    return check
