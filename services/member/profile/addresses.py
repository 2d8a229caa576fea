"""A shopper's shipping addresses: up to MAX_ADDRESSES, exactly one default while any exist,
each sealed whole by the vault."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from servicekit.addresses import check_address
from servicekit.errors import InvalidArgument, NotFound, ResourceExhausted, Violations
from servicekit.times import utcnow

from ..identity.accounts import require_member
from ..models import Address
from .vault import Vault

MAX_ADDRESSES = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddressView:
    row: Address
    address: dict


def list_for(session: Session, vault: Vault, member_id: str) -> list[AddressView]:
    """The default first, then newest first."""
    rows = session.scalars(select(Address).where(Address.member_id == member_id)
                           .order_by(Address.is_default.desc(), Address.created_at.desc()))
    return [AddressView(r, vault.open_address(r.id, r.payload_enc)) for r in rows]


def create(session: Session, vault: Vault, member_id: str, address: dict,
           make_default: bool) -> AddressView:
    require_member(session, member_id, lock=True)  # serialises the cap and the default per member
    clean = _validated(address)
    count = session.scalar(select(func.count()).select_from(Address)
                           .where(Address.member_id == member_id))
    if count >= MAX_ADDRESSES:
        raise ResourceExhausted(f"a member keeps at most {MAX_ADDRESSES} addresses; delete one first")
    now = utcnow()
    row = Address(id=str(uuid.uuid4()), member_id=member_id, is_default=False, created_at=now,
                  updated_at=now)
    row.payload_enc = vault.seal_address(row.id, clean)
    session.add(row)
    if make_default or count == 0:
        _make_default(session, member_id, row)
    session.flush()
    log.info("member %s added address %s", member_id, row.id)
    return AddressView(row, clean)


def replace(session: Session, vault: Vault, member_id: str, address_id: str, address: dict,
            make_default: bool) -> AddressView:
    require_member(session, member_id, lock=True)
    row = _owned(session, member_id, address_id)
    clean = _validated(address)
    row.payload_enc = vault.seal_address(row.id, clean)
    row.updated_at = utcnow()
    if make_default:
        _make_default(session, member_id, row)
    session.flush()
    return AddressView(row, clean)


def delete(session: Session, member_id: str, address_id: str) -> None:
    """Deleting the default makes the newest remaining address the default."""
    require_member(session, member_id, lock=True)
    row = _owned(session, member_id, address_id)
    was_default = row.is_default
    session.delete(row)
    session.flush()
    if was_default:
        successor = session.scalar(select(Address).where(Address.member_id == member_id)
                                   .order_by(Address.created_at.desc()).limit(1))
        if successor is not None:
            successor.is_default = True


def open_one(session: Session, vault: Vault, member_id: str, address_id: str) -> AddressView:
    """One of the member's own addresses, opened (a points-mall gift ships to it)."""
    row = _owned(session, member_id, address_id)
    return AddressView(row, vault.open_address(row.id, row.payload_enc))


def _validated(address: dict) -> dict:
    v = Violations()
    clean = check_address(v, address)
    v.raise_if_any()
    return clean


def _owned(session: Session, member_id: str, address_id: str) -> Address:
    try:
        uuid.UUID(address_id)
    except ValueError:
        raise InvalidArgument.field("address_id", "uuid", "an address id from ListAddresses") from None
    row = session.get(Address, address_id)
    if row is None or row.member_id != member_id:  # another member's address does not exist for you
        raise NotFound(f"no address {address_id} among yours")
    return row


def _make_default(session: Session, member_id: str, row: Address) -> None:
    session.execute(update(Address).where(Address.member_id == member_id, Address.id != row.id,
                                          Address.is_default.is_(True)).values(is_default=False))
    row.is_default = True
