"""Partner request signatures, defined once for both sides: member verifies them, the gateway's
tests and partners' scripts make them.

canonical string = METHOD "\n" PATH_WITH_QUERY "\n" TIMESTAMP "\n" NONCE "\n" BODY_SHA256_HEX
signature        = lowercase hex of HMAC-SHA256(secret as UTF-8, canonical string as UTF-8)
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

# Header names the gateway reads (and partners send).
KEY_ID, TIMESTAMP, NONCE, CONTENT_SHA256, SIGNATURE = (
    "X-Mall-Key-Id", "X-Mall-Timestamp", "X-Mall-Nonce", "X-Mall-Content-SHA256", "X-Mall-Signature")
WINDOW_SECONDS = 300  # a timestamp further than this from the server's clock is refused


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_string(method: str, path: str, timestamp: str, nonce: str, body_hash: str) -> str:
    return "\n".join((method.upper(), path, timestamp, nonce, body_hash.lower()))


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str,
              body_hash: str) -> str:
    message = canonical_string(method, path, timestamp, nonce, body_hash)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes = b"", *,
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The five headers a partner sends with one request (`path` with its query string)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    digest = body_sha256(body)
    return {KEY_ID: key_id, TIMESTAMP: ts, NONCE: nonce, CONTENT_SHA256: digest,
            SIGNATURE: signature(secret, method, path, ts, nonce, digest)}


def sign(request, key_id: str, secret: str, *, timestamp: int | None = None,
         nonce: str | None = None):
    """Adds the five headers to an `httpx.Request` (its body and its path with the query, as
    sent), the way a partner's client signs; returns the request."""
    request.headers.update(signed_headers(key_id, secret, request.method,
                                          request.url.raw_path.decode(), request.read(),
                                          timestamp=timestamp, nonce=nonce))
    return request
