"""Reading shipments: lists (staff: any; a shopper: their own), one with its timeline, and the
packing list. A shopper asking for someone else's shipment gets NOT_FOUND, never a hint."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from servicekit import paging
from servicekit.errors import FieldViolation, NotFound

from .models import Shipment, TrackingEvent, Warehouse
from .warehouses import warehouse_by_code


@dataclass(frozen=True)
class Viewer:
    user_id: str
    staff: bool


@dataclass(frozen=True)
class ShipmentFilter:
    order_id: str = ""
    member_id: str = ""
    state: str = ""
    warehouse_code: str = ""


def list_shipments(session: Session, viewer: Viewer, wanted: ShipmentFilter, page_size: int,
                   page_token: str) -> tuple[list[Shipment], str]:
    """Newest first; a shopper's list is always their own, whatever member_id they send."""
    member_id = wanted.member_id if viewer.staff else viewer.user_id
    size = paging.page_size(page_size)
    bound = paging.fingerprint("shipments", wanted.order_id, member_id, wanted.state,
                               wanted.warehouse_code)
    query = select(Shipment)
    if wanted.order_id:
        query = query.where(Shipment.order_id == wanted.order_id)
    if member_id:
        query = query.where(Shipment.member_id == member_id)
    if wanted.state:
        query = query.where(Shipment.state == wanted.state)
    if wanted.warehouse_code:
        query = query.where(Shipment.warehouse_id == warehouse_by_code(session,
                                                                       wanted.warehouse_code).id)
    if after := paging.decode("logistics", page_token, bound):
        created_at, sid = datetime.fromisoformat(after[0]), after[1]
        query = query.where(or_(Shipment.created_at < created_at,
                                (Shipment.created_at == created_at) & (Shipment.id < sid)))
    rows = list(session.scalars(query.order_by(Shipment.created_at.desc(), Shipment.id.desc())
                                .limit(size + 1)))
    token = ""
    if len(rows) > size:
        rows = rows[:size]
        token = paging.encode("logistics", [rows[-1].created_at.isoformat(), rows[-1].id], bound)
    return rows, token


def get_shipment(session: Session, viewer: Viewer, shipment_id: str) -> Shipment:
    shipment = session.get(Shipment, shipment_id) if shipment_id else None
    if shipment is None or not (viewer.staff or shipment.member_id == viewer.user_id):
        raise NotFound(f"no shipment {shipment_id!r}", [FieldViolation(
            "shipment_id", "exists", f"no shipment {shipment_id!r} of yours")])
    return shipment


def timeline(session: Session, shipment: Shipment) -> list[TrackingEvent]:
    return list(session.scalars(select(TrackingEvent)
                                .where(TrackingEvent.shipment_id == shipment.id)
                                .order_by(TrackingEvent.occurred_at, TrackingEvent.id)))


def warehouse_code_of(session: Session, shipment: Shipment) -> str:
    return shipment.warehouse.code if shipment.warehouse else session.get(
        Warehouse, shipment.warehouse_id).code
