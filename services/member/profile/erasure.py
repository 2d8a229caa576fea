"""A member's rights over their data: export everything we hold, and delete the account.

Deletion erases the personal data (ciphertexts and the phone hash dropped, addresses deleted,
openid replaced so WeChat's id no longer leads here) and keeps the member row anonymised, because
orders, payments and the points ledger elsewhere still name the member id. Consent records stay
(they prove what the member agreed to, and hold no personal data themselves).
"""
from __future__ import annotations

import json

from mall.events.v1 import member_events_pb2
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..identity import refresh_store
from ..identity.accounts import require_member
from ..identity.tokens import CUSTOMER
from ..models import (
    Address,
    BirthdayGrant,
    MemberProfile,
    MemberTier,
    PointsAccount,
    PointsEntry,
    Redemption,
    ShoppingHabits,
)
from . import addresses, consents, profiles
from .vault import Vault


def export(session: Session, vault: Vault, member_id: str) -> dict:
    member = require_member(session, member_id)
    profile = profiles.view(session, vault, member)
    habits = profile.habits
    account = session.get(PointsAccount, member_id)
    tier = session.get(MemberTier, member_id)
    return {
        "member": {"member_id": member.id, "nickname": member.nickname,
                   "avatar_url": member.avatar_url, "created_at": rfc3339(member.created_at),
                   "last_login_at": rfc3339(member.last_login_at),
                   "wechat": {"openid": member.openid, "unionid": member.unionid or ""}},
        "profile": {"name": profile.name, "phone": profile.phone, "birthday": profile.birthday,
                    "sizes": {"bra_band": profile.bra_band, "bra_cup": profile.bra_cup,
                              "bottoms_size": profile.bottoms_size}},
        "habits": None if habits is None else {
            "orders_count": habits.orders_count, "total_paid_fen": habits.total_paid_fen,
            "average_order_fen": habits.average_order_fen,
            "last_order_at": rfc3339(habits.last_order_at),
            "favourite_category_ids": profile.favourite_category_ids},
        "addresses": [{"address_id": a.row.id, "is_default": a.row.is_default, **a.address}
                      for a in addresses.list_for(session, vault, member_id)],
        "consents": [{"purpose": c.purpose, "granted": c.granted, "source": c.source,
                      "recorded_at": rfc3339(c.recorded_at)}
                     for c in consents.history(session, member_id)],
        "tier": tier.tier_code if tier else "",
        "points": {
            "balance": account.balance if account else 0,
            "entries": [{"kind": e.kind, "points": e.points, "balance_after": e.balance_after,
                         "ref": e.ref or "", "reason": e.reason, "created_at": rfc3339(e.created_at)}
                        for e in session.scalars(select(PointsEntry).where(
                            PointsEntry.member_id == member_id).order_by(PointsEntry.id))]},
        "redemptions": [{"redemption_id": r.id, "item_id": r.item_id, "quantity": r.quantity,
                         "points": r.points, "created_at": rfc3339(r.created_at)}
                        for r in session.scalars(select(Redemption).where(
                            Redemption.member_id == member_id).order_by(Redemption.created_at))],
        "birthday_gifts": [{"year": g.year, "granted_at": rfc3339(g.granted_at)}
                           for g in session.scalars(select(BirthdayGrant).where(
                               BirthdayGrant.member_id == member_id))],
        "exported_at": rfc3339(utcnow()),
    }


def export_json(session: Session, vault: Vault, member_id: str) -> str:
    return json.dumps(export(session, vault, member_id), ensure_ascii=False, indent=2)


def delete_account(runtime: Runtime, session: Session, member_id: str, confirm: bool):
    if not confirm:
        raise InvalidArgument.field("confirm", "required",
                                    "set confirm to true: deleting the account cannot be undone")
    member = require_member(session, member_id, lock=True)
    now = utcnow()
    member.openid = f"deleted:{member.id}"  # a later sign-in with this WeChat makes a new member
    member.unionid = None
    member.nickname, member.avatar_url = "", ""
    member.deleted_at = now
    session.execute(delete(MemberProfile).where(MemberProfile.member_id == member_id))
    session.execute(delete(Address).where(Address.member_id == member_id))
    session.execute(delete(ShoppingHabits).where(ShoppingHabits.member_id == member_id))
    refresh_store.revoke_subject(session, CUSTOMER, member_id)
    runtime.emit(session, "member.deleted", member_events_pb2.MemberDeleted(
        member_id=member_id, deleted_at=rfc3339(now)))
    return now
