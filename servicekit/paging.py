"""Opaque, signed page tokens for keyset pagination (mall.common.v1.PageRequest), for every service.

A token holds the sort key of the last row of a page and what query it belongs to (`bound_to`:
a name, or `fingerprint(filters...)`), signed with HMAC-SHA256 under the service's secret
(`MALL_<SERVICE>_PAGE_TOKEN_SECRET`, else `MALL_PAGE_TOKEN_SECRET`, else a development secret for
`make run`). An altered token, or one from another query, is INVALID_ARGUMENT on its field.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from .config import env
from .errors import InvalidArgument

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100


def _secret(service: str) -> bytes:
    return env("PAGE_TOKEN_SECRET", f"{service}-page-tokens-dev-secret", service).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts) -> str:
    """A short digest of whatever a token must stay bound to (filters, sort, caller)."""
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def page_size(requested: int, field: str = "page.page_size") -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument.field(field, "range",
                                    f"page_size must be 1..{MAX_PAGE_SIZE} (0 means "
                                    f"{DEFAULT_PAGE_SIZE}); got {requested}")
    return requested


def encode(service: str, key: list, bound_to: str) -> str:
    payload = _b64(json.dumps({"k": key, "q": bound_to}, separators=(",", ":")).encode())
    signature = hmac.new(_secret(service), payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(signature)}"


def decode(service: str, token: str, bound_to: str, field: str = "page.page_token") -> list | None:
    """The sort key of the previous page's last row, or None for the first page."""
    if not token:
        return None
    refused = InvalidArgument.field(
        field, "signed",
        "page_token was altered or belongs to another query; pass the next_page_token of the "
        "previous page unchanged with the same filters, or none for the first page")
    try:
        payload, signature = token.split(".")
        expected = hmac.new(_secret(service), payload.encode(), hashlib.sha256).digest()[:16]
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
