"""Partner ERPs' credentials: issue (secret shown once, stored sealed), list, revoke, and verify a
request's signature (servicekit.partner_signing) with a ±5-minute window and one use per nonce."""
from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.errors import NotFound, Unauthenticated, Violations
from servicekit.partner_signing import WINDOW_SECONDS, signature

from ..models import PartnerCredential, PartnerNonce
from ..profile.vault import Vault

PARTNER_ID = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
NAME_MAX = 128
WINDOW = timedelta(seconds=WINDOW_SECONDS)
LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is a hint: written at most once a minute


@dataclass(frozen=True)
class Issued:
    credential: PartnerCredential
    secret: str


@dataclass(frozen=True)
class SignedRequest:
    key_id: str
    method: str
    path: str
    timestamp: str
    nonce: str
    body_sha256: str
    signature: str


def issue(session: Session, vault: Vault, staff_id: str, partner_id: str, partner_name: str,
          now: datetime) -> Issued:
    partner_id, partner_name = partner_id.strip(), partner_name.strip()
    v = Violations()
    v.check(bool(PARTNER_ID.match(partner_id)), "partner_id", "format",
            "2 to 64 characters of a-z, 0-9, '-' or '_', starting with a letter, e.g. erp-acme")
    v.check(len(partner_name) <= NAME_MAX, "partner_name", "max_length",
            f"at most {NAME_MAX} characters")
    v.raise_if_any("the partner credential has invalid fields")
    key_id = "pk_" + secrets.token_hex(10)
    secret = secrets.token_urlsafe(32)
    row = PartnerCredential(key_id=key_id, partner_id=partner_id, partner_name=partner_name,
                            secret_sealed=vault.seal_partner_secret(key_id, secret),
                            created_by=staff_id, created_at=now)
    session.add(row)
    session.flush()
    return Issued(row, secret)


def list_credentials(session: Session, partner_id: str = "",
                     include_revoked: bool = False) -> list[PartnerCredential]:
    query = select(PartnerCredential).order_by(PartnerCredential.created_at.desc())
    if partner_id:
        query = query.where(PartnerCredential.partner_id == partner_id)
    if not include_revoked:
        query = query.where(PartnerCredential.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke(session: Session, key_id: str, now: datetime) -> PartnerCredential:
    row = session.get(PartnerCredential, key_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no partner credential {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def _refuse(reason: str) -> Unauthenticated:
    return Unauthenticated(f"partner signature refused: {reason}")


def verify(session: Session, vault: Vault, req: SignedRequest, now: datetime) -> PartnerCredential:
    """The credential that signed `req`, or UNAUTHENTICATED saying why. The nonce is recorded only
    after the signature holds (nobody without the secret can burn a partner's nonces)."""
    row = session.get(PartnerCredential, req.key_id) if req.key_id else None
    if row is None:
        raise _refuse(f"unknown key id {req.key_id!r}")
    if row.revoked_at is not None:
        raise _refuse(f"key {req.key_id} was revoked")
    try:
        signed_at = datetime.fromtimestamp(int(req.timestamp), now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise _refuse(f"timestamp {req.timestamp!r} is not Unix seconds") from None
    if abs(now - signed_at) > WINDOW:
        raise _refuse(f"timestamp {req.timestamp} is more than {WINDOW_SECONDS} seconds from the "
                      f"server's clock ({int(now.timestamp())}); check the client's clock")
    if not NONCE.match(req.nonce):
        raise _refuse("the nonce must be 8 to 64 characters of A-Z a-z 0-9 '-' '_'")
    if not HEX64.match(req.body_sha256):
        raise _refuse("the body hash must be the body's SHA-256 in 64 lowercase hex digits")
    secret = vault.open_partner_secret(row.key_id, row.secret_sealed)
    expected = signature(secret, req.method, req.path, req.timestamp, req.nonce, req.body_sha256)
    if not hmac.compare_digest(expected.encode(), req.signature.strip().lower().encode()):
        raise _refuse("the signature does not match the canonical string "
                      "(method, path with query, timestamp, nonce, body SHA-256)")
    fresh = session.execute(dialect_insert(session, PartnerNonce.__table__).values(
        key_id=row.key_id, nonce=req.nonce, seen_at=now).on_conflict_do_nothing()).rowcount
    if not fresh:
        raise _refuse(f"nonce {req.nonce!r} was already used with this key")
    session.execute(update(PartnerCredential).where(
        PartnerCredential.key_id == row.key_id,
        (PartnerCredential.last_used_at.is_(None))
        | (PartnerCredential.last_used_at < now - LAST_USED_STEP)).values(last_used_at=now))
    return row


def prune_nonces(session: Session, now: datetime) -> int:
    """Nonces older than the window: their timestamps would be refused anyway."""
    return session.execute(delete(PartnerNonce).where(
        PartnerNonce.seen_at < now - 2 * WINDOW)).rowcount
