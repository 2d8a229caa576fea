"""A shopper's profile: name, phone and birthday (sealed by the vault), sizes, habits, and the
look-up of a member by phone through its keyed hash."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.addresses import check_mobile
from servicekit.errors import AlreadyExists, Violations
from servicekit.ids import is_reference
from servicekit.times import today_in_shanghai, utcnow

from ..identity.accounts import require_member
from ..models import Member, MemberProfile, ShoppingHabits
from . import consents, contact_rules
from .habits import favourite_categories
from .vault import Vault

log = logging.getLogger(__name__)


@dataclass
class ProfileView:
    """The profile in clear, for the member themselves (and their export)."""
    member: Member
    name: str = ""
    phone: str = ""
    birthday: str = ""
    bra_band: int = 0
    bra_cup: str = ""
    bottoms_size: str = ""
    habits: ShoppingHabits | None = None
    favourite_category_ids: list[str] = field(default_factory=list)
    marketing_consent: bool = False


@dataclass(frozen=True)
class ProfileChanges:
    """None: unchanged; "": cleared."""
    name: str | None = None
    phone: str | None = None
    birthday: str | None = None
    sizes: tuple[int, str, str] | None = None  # band, cup, bottoms


def blank_profile(member_id: str, now: datetime) -> MemberProfile:
    return MemberProfile(member_id=member_id, bra_cup="", bottoms_size="", updated_at=now)


def view(session: Session, vault: Vault, member: Member) -> ProfileView:
    profile = session.get(MemberProfile, member.id)
    habits = session.get(ShoppingHabits, member.id)
    out = ProfileView(member=member, habits=habits, favourite_category_ids=favourite_categories(habits),
                      marketing_consent=consents.granted(session, member.id, "marketing"))
    if profile is not None:
        out.name = vault.open_field(member.id, "name", profile.name_enc)
        out.phone = vault.open_field(member.id, "phone", profile.phone_enc)
        out.birthday = vault.open_field(member.id, "birthday", profile.birthday_enc)
        out.bra_band, out.bra_cup = profile.bra_band or 0, profile.bra_cup
        out.bottoms_size = profile.bottoms_size
    return out


def get(session: Session, vault: Vault, member_id: str) -> ProfileView:
    return view(session, vault, require_member(session, member_id))


def update(session: Session, vault: Vault, member_id: str, changes: ProfileChanges) -> ProfileView:
    member = require_member(session, member_id)
    v = Violations()
    phone = None
    if changes.name:
        v.check(len(changes.name.strip()) <= contact_rules.NAME_MAX, "name", "max_length",
                f"at most {contact_rules.NAME_MAX} characters")
    if changes.phone:
        phone = check_mobile(v, changes.phone, "phone")
    if changes.birthday:
        contact_rules.check_birthday(v, changes.birthday, today_in_shanghai())
    if changes.sizes is not None:
        contact_rules.check_sizes(v, *changes.sizes)
    v.raise_if_any()

    now = utcnow()
    profile = session.get(MemberProfile, member.id, with_for_update=True)
    if profile is None:
        profile = blank_profile(member.id, now)
        session.add(profile)
    if changes.name is not None:
        profile.name_enc = vault.seal_field(member.id, "name", changes.name.strip())
    if changes.phone is not None:
        digest = vault.phone_hash(phone) if phone else None
        if digest and _phone_taken(session, digest, member.id):
            raise AlreadyExists("phone: this number belongs to another member; sign in with "
                                "that account or use another number")
        profile.phone_enc = vault.seal_field(member.id, "phone", phone)
        profile.phone_hash = digest
    if changes.birthday is not None:
        profile.birthday_enc = vault.seal_field(member.id, "birthday", changes.birthday)
    if changes.sizes is not None:
        band, cup, bottoms = changes.sizes
        profile.bra_band, profile.bra_cup, profile.bottoms_size = band or None, cup, bottoms
    profile.updated_at = now
    session.flush()
    # Which fields, never their values.
    log.info("member %s updated their profile: %s", member.id,
             ", ".join(k for k, v in vars(changes).items() if v is not None))
    return view(session, vault, member)


def _phone_taken(session: Session, digest: str, member_id: str) -> bool:
    return session.scalar(select(MemberProfile.member_id).where(
        MemberProfile.phone_hash == digest, MemberProfile.member_id != member_id).limit(1)) is not None


MAX_PHONES = 1000  # one lookup's numbers


def find_by_phone(session: Session, vault: Vault, raw_phone: str) -> str | None:
    """The live member whose profile holds this number, or None."""
    v = Violations()
    phone = check_mobile(v, raw_phone, "phone")
    v.raise_if_any()
    return _live_members(session, {vault.phone_hash(phone): [raw_phone]}).get(raw_phone)


def find_by_phones(session: Session, vault: Vault, raw_phones: list[str]) -> dict[str, str]:
    """number as given -> the live member whose profile holds it, for the numbers found."""
    v = Violations()
    v.check(len(raw_phones) <= MAX_PHONES, "phones", "max_items",
            f"at most {MAX_PHONES} numbers at once (got {len(raw_phones)}): split the lookup")
    v.raise_if_any()
    by_hash: dict[str, list[str]] = {}
    for i, raw in enumerate(raw_phones):
        by_hash.setdefault(vault.phone_hash(check_mobile(v, raw, f"phones[{i}]")), []).append(raw)
    v.raise_if_any()
    return _live_members(session, by_hash)


MAX_EXISTS = 1000  # one MembersExist's ids


def existing(session: Session, member_ids: list[str]) -> list[str]:
    """Those of `member_ids` that are live members (not deleted), in the order given: one query.
    An id of no id's form is simply not one."""
    v = Violations()
    v.check(len(member_ids) <= MAX_EXISTS, "member_ids", "max_items",
            f"at most {MAX_EXISTS} ids at once (got {len(member_ids)}): split the lookup")
    v.raise_if_any()
    asked = [m for m in dict.fromkeys(member_ids) if is_reference(m)]
    if not asked:
        return []
    live = set(session.scalars(select(Member.id).where(Member.id.in_(asked),
                                                       Member.deleted_at.is_(None))))
    return [m for m in asked if m in live]


def _live_members(session: Session, by_hash: dict[str, list[str]]) -> dict[str, str]:
    """One query by keyed hash (a number is never searched in clear): number as given -> the live
    member whose profile holds it."""
    if not by_hash:
        return {}
    found = session.execute(
        select(MemberProfile.phone_hash, MemberProfile.member_id)
        .join(Member, Member.id == MemberProfile.member_id)
        .where(MemberProfile.phone_hash.in_(list(by_hash)), Member.deleted_at.is_(None))).all()
    return {raw: member_id for digest, member_id in found for raw in by_hash[digest]}
