"""A member's erasure (member.deleted) and export, as far as shipments go.

The recipient (name, phone, district, street) is erased at once from her shipments that reached
the end of their journey (delivered or returned). A parcel still on its way keeps it until it
does: the carrier may need to call her or redeliver, and a paid order must arrive. Tracking
erases it when such a shipment reaches delivered or returned (`after_final_step`). The
destination province and city stay (the accounts and the carrier's tariffs by region).
"""
from __future__ import annotations

from datetime import datetime

from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2 as pb
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import erasure

from . import shipments
from .models import Shipment
from .tracking import FINAL

ERASED = ""  # recipient_sealed of a shipment whose recipient was erased


def erase_member(session: Session, member_id: str, erased_at: datetime | None = None) -> dict:
    erasure.remember(session, member_id, erased_at)
    erased = held = 0
    for shipment in session.scalars(select(Shipment).where(Shipment.member_id == member_id)
                                    .order_by(Shipment.id).with_for_update(of=Shipment)):
        if shipment.recipient_sealed == ERASED:
            continue
        if shipment.state in FINAL:
            shipment.recipient_sealed = ERASED
            erased += 1
        else:
            held += 1
    counts = {"recipients_erased": erased, "held_until_delivered": held}
    erasure.report("logistics", member_id, **counts)
    return counts


def after_final_step(session: Session, shipment: Shipment) -> None:
    """A shipment of an erased member reached delivered or returned: its recipient goes now."""
    if (shipment.state in FINAL and shipment.recipient_sealed != ERASED
            and erasure.is_erased(session, shipment.member_id)):
        shipment.recipient_sealed = ERASED
        erasure.report("logistics", shipment.member_id, recipients_erased=1,
                       held_until_delivered=0)


def export(session: Session, member_id: str, message_of) -> pb.MemberShipmentData:
    """Her shipments (`message_of`: the api's Shipment message) with their recipients."""
    found = []
    for shipment in session.scalars(select(Shipment).where(Shipment.member_id == member_id)
                                    .order_by(Shipment.created_at, Shipment.id)):
        private = shipments.recipient_of(shipment)
        found.append(pb.MemberShipment(
            shipment=message_of(shipment), recipient_erased=not private,
            recipient=common_pb2.Address(
                recipient=private.get("recipient", ""), phone=private.get("phone", ""),
                province=shipment.destination_province, city=shipment.destination_city,
                district=private.get("district", ""), detail=private.get("detail", ""))))
    return pb.MemberShipmentData(shipments=found)
