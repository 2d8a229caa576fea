"""Refresh tokens held server-side by jti, so a refresh token works exactly once.

Rotation spends the presented token and records its successor in the same family. Presenting a
spent token again means it leaked (or a client replayed it): the whole family is revoked, so the
thief and the owner both have to sign in again (OAuth 2.0 Security BCP, refresh token rotation).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..models import RefreshToken
from .tokens import Claims, IssuedPair


def record(session: Session, pair: IssuedPair, family_id: str | None = None) -> None:
    refresh = pair.refresh
    session.add(RefreshToken(jti=refresh.jti, family_id=family_id or str(uuid.uuid4()),
                             subject_kind=refresh.kind, subject_id=refresh.sub,
                             issued_at=refresh.iat, expires_at=refresh.exp))


def spend(session: Session, claims: Claims) -> RefreshToken | None:
    """Marks the token spent and returns its row, or None when it cannot be used: unknown,
    revoked, expired or already spent (the last also revokes its family)."""
    now = datetime.now(timezone.utc)
    # One conditional UPDATE: of two concurrent refreshes with the same token, exactly one wins.
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == claims.jti, RefreshToken.spent_at.is_(None),
               RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
        .values(spent_at=now)
        .execution_options(synchronize_session=False))
    row = session.get(RefreshToken, claims.jti)
    if row is None:
        return None
    if spent.rowcount != 1:
        if row.spent_at is not None:
            revoke_family(session, row.family_id)
        return None
    if row.subject_kind != claims.kind or row.subject_id != claims.sub:
        return None  # signed by us but not as we recorded it: refuse
    return row


def revoke_family(session: Session, family_id: str) -> None:
    session.execute(update(RefreshToken)
                    .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(timezone.utc))
                    .execution_options(synchronize_session=False))


def revoke_subject(session: Session, kind: str, subject_id: str) -> None:
    """Every refresh token of an account stops working (disabled, password changed)."""
    session.execute(update(RefreshToken)
                    .where(RefreshToken.subject_kind == kind,
                           RefreshToken.subject_id == subject_id,
                           RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(timezone.utc))
                    .execution_options(synchronize_session=False))

