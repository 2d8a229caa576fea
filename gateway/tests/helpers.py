"""Token minting and app building shared by the gateway's tests."""
from __future__ import annotations

import os
import time
import uuid

import jwt


def session_secret() -> str:
    """The test session's MALL_JWT_SECRET (set by servicekit.testing; member signs with it)."""
    return os.environ["MALL_JWT_SECRET"]


def token(sub: str = "m-1", kind: str = "customer", roles: tuple[str, ...] = (),
          type_: str = "access", ttl: int = 900, secret: str | None = None, **extra) -> str:
    now = int(time.time())
    claims = {"sub": sub, "kind": kind, "roles": list(roles), "type": type_,
              "jti": uuid.uuid4().hex, "iat": now, "exp": now + ttl, **extra}
    return jwt.encode(claims, secret or session_secret(), algorithm="HS256")


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}
