"""Opaque, signed page tokens for keyset pagination (mall.common.v1.PageRequest).

A token holds the sort key of the last row of a page and what query it belongs to, signed with
HMAC-SHA256 (secret MALL_<SERVICE>_PAGE_TOKEN_SECRET or MALL_PAGE_TOKEN_SECRET). An altered token,
or one from another query, is refused as INVALID_ARGUMENT on `page.page_token`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from servicekit.config import env
from servicekit.errors import InvalidArgument

SERVICE = __package__.rsplit(".", 1)[-1]
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
_DEV_SECRET = f"{SERVICE}-page-tokens-dev-secret"  # make run only; deployments set the variable


def _secret() -> bytes:
    return env("PAGE_TOKEN_SECRET", _DEV_SECRET, SERVICE).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def page_size(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument.field("page.page_size", "range",
                                    f"page_size must be 1..{MAX_PAGE_SIZE} (0 means "
                                    f"{DEFAULT_PAGE_SIZE}); got {requested}")
    return requested


def encode(key: list, bound_to: str) -> str:
    payload = _b64(json.dumps({"k": key, "q": bound_to}, separators=(",", ":")).encode())
    signature = hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(signature)}"


def decode(token: str, bound_to: str) -> list | None:
    """The sort key of the previous page's last row, or None for the first page."""
    if not token:
        return None
    refused = InvalidArgument.field(
        "page.page_token", "signed",
        "page_token was altered or belongs to another query; pass the next_page_token of the "
        "previous page unchanged with the same filters, or none for the first page")
    try:
        payload, signature = token.split(".")
        expected = hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise refused
        body = json.loads(_unb64(payload))
    except InvalidArgument:
        raise
    except (ValueError, TypeError):
        raise refused from None
    if not isinstance(body, dict) or body.get("q") != bound_to or not isinstance(body.get("k"), list):
        raise refused
    return body["k"]
