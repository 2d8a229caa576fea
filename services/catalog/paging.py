"""Opaque, signed page tokens for keyset pagination.

A token holds the sort key of the last row of a page and a fingerprint of the query that made it,
signed with HMAC-SHA256 (secret MALL_CATALOG_PAGE_TOKEN_SECRET). A token that was altered, or that
belongs to another query or sort, is refused as INVALID_ARGUMENT on `page_token`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from servicekit.config import env
from servicekit.errors import InvalidArgument

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
_DEV_SECRET = "catalog-page-tokens-dev-secret"  # make run only; production sets the variable


def _secret() -> bytes:
    return env("PAGE_TOKEN_SECRET", _DEV_SECRET, "catalog").encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts) -> str:
    """A short digest of whatever a token must stay bound to (filters, sort)."""
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def page_size(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument.field("page_size", "range",
                                    f"page_size must be 1..{MAX_PAGE_SIZE} (0 means "
                                    f"{DEFAULT_PAGE_SIZE}); got {requested}")
    return requested


def encode(key: list, bound_to: str) -> str:
    payload = _b64(json.dumps({"k": key, "q": bound_to}, separators=(",", ":")).encode())
    signature = hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(signature)}"


def decode(token: str, bound_to: str) -> list | None:
    """The keyset of the previous page's last row, or None for the first page."""
    if not token:
        return None
    refused = InvalidArgument.field(
        "page_token", "signed",
        "page_token was altered or belongs to another query; pass the next_page_token of the "
        "previous page unchanged with the same filters and sort, or none for the first page")
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
