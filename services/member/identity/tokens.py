"""JWT access and refresh tokens (PyJWT, HS256).

Claims (the gateway verifies access tokens with its own code, so this is a contract, see README):
``sub`` member or staff id, ``kind`` "customer" | "staff", ``roles`` (staff only), ``type``
"access" | "refresh", ``jti``, ``iat``, ``exp``.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import jwt

from servicekit.config import env, var_dir
from servicekit.devsecrets import read_or_create

ALGORITHM = "HS256"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash output
SECRET_FILE = "jwt_secret"

CUSTOMER = "customer"
STAFF = "staff"


def load_jwt_secret() -> str:
    """`MALL_JWT_SECRET`, or for `make run` a dev secret generated once into var/jwt_secret
    (shared by every process on the machine: the gateway reads the same file)."""
    configured = env("JWT_SECRET")
    if configured:
        if len(configured.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"MALL_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        return configured
    secret = read_or_create(SECRET_FILE, lambda: secrets.token_urlsafe(48))
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise RuntimeError(f"{var_dir() / SECRET_FILE} holds no usable secret; delete it and "
                           "start again")
    return secret


@dataclass(frozen=True)
class Claims:
    sub: str
    kind: str
    roles: tuple[str, ...]
    type: str
    jti: str
    iat: datetime
    exp: datetime


@dataclass(frozen=True)
class IssuedPair:
    access_token: str
    refresh_token: str
    access: Claims
    refresh: Claims


class InvalidToken(Exception):
    """The token is malformed, forged, expired or of the wrong type."""


class TokenIssuer:
    def __init__(self, secret: str, *, access_ttl: timedelta = ACCESS_TTL,
                 refresh_ttl: timedelta = REFRESH_TTL,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._clock = clock

    def issue_pair(self, kind: str, sub: str, roles: tuple[str, ...] = ()) -> IssuedPair:
        now = self._clock().replace(microsecond=0)  # iat/exp are whole seconds in the JWT
        access = self._claims(kind, sub, roles, "access", now, self.access_ttl)
        refresh = self._claims(kind, sub, roles, "refresh", now, self.refresh_ttl)
        return IssuedPair(self._encode(access), self._encode(refresh), access, refresh)

    def decode(self, token: str, expected_type: str) -> Claims:
        try:
            payload = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                 options={"require": ["sub", "kind", "type", "jti", "iat", "exp"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if payload["type"] != expected_type:
            raise InvalidToken(f"a {payload['type']} token where a {expected_type} token is needed")
        if payload["kind"] not in (CUSTOMER, STAFF):
            raise InvalidToken("unknown account kind")
        return Claims(sub=str(payload["sub"]), kind=payload["kind"],
                      roles=tuple(payload.get("roles", ())), type=payload["type"],
                      jti=str(payload["jti"]),
                      iat=datetime.fromtimestamp(payload["iat"], timezone.utc),
                      exp=datetime.fromtimestamp(payload["exp"], timezone.utc))

    @staticmethod
    def _claims(kind: str, sub: str, roles: tuple[str, ...], token_type: str, now: datetime,
                ttl: timedelta) -> Claims:
        return Claims(sub=sub, kind=kind, roles=tuple(roles) if kind == STAFF else (),
                      type=token_type, jti=str(uuid.uuid4()), iat=now, exp=now + ttl)

    def _encode(self, claims: Claims) -> str:
        payload = {"sub": claims.sub, "kind": claims.kind, "type": claims.type,
                   "jti": claims.jti, "iat": claims.iat, "exp": claims.exp}
        if claims.kind == STAFF:
            payload["roles"] = list(claims.roles)
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)
