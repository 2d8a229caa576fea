"""Opaque, signed page tokens: the cursor is the last username of the previous page, signed with
a key derived from the JWT secret so a client can neither read meaning into it nor forge one."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from servicekit.errors import InvalidArgument

DEFAULT_SIZE = 20
MAX_SIZE = 100


class PageTokens:
    def __init__(self, secret: str):
        self._key = hashlib.sha256(b"mall.member page token\x00" + secret.encode()).digest()

    def encode(self, cursor: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode())
        sig = base64.urlsafe_b64encode(hmac.digest(self._key, body, "sha256")[:16])
        return f"{body.decode().rstrip('=')}.{sig.decode().rstrip('=')}"

    def decode(self, token: str, field: str = "page.page_token") -> dict:
        try:
            body, sig = token.split(".")
            body_bytes, sig_bytes = body.encode(), _unpad(sig)
            expected = hmac.digest(self._key, base64.urlsafe_b64encode(_unpad(body)), "sha256")[:16]
            if not hmac.compare_digest(expected, sig_bytes):
                raise ValueError("bad signature")
            cursor = json.loads(_unpad(body_bytes.decode()))
            if not isinstance(cursor, dict):
                raise ValueError("not an object")
            return cursor
        except (ValueError, TypeError):
            raise InvalidArgument.field(field, "valid_token",
                                        "a next_page_token returned by the previous page, "
                                        "unchanged, or empty for the first page") from None


def _unpad(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def page_size(requested: int, field: str = "page.page_size") -> int:
    if requested == 0:
        return DEFAULT_SIZE
    if not 1 <= requested <= MAX_SIZE:
        raise InvalidArgument.field(field, "range", f"between 1 and {MAX_SIZE}, or 0 for "
                                                    f"{DEFAULT_SIZE}")
    return requested
