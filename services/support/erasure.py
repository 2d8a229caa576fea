"""A member's erasure (member.deleted) and export, as far as the inbox goes: her notices are
deleted (they are messages to her, no record anyone must keep), and a notice about her that an
event brings later is not written (inbox.notify asks servicekit.erasure)."""
from __future__ import annotations

from datetime import datetime

from mall.support.v1 import support_pb2 as pb
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from servicekit import consents, erasure

from .models import Notification


def erase_member(session: Session, member_id: str, erased_at: datetime | None = None) -> dict:
    erasure.remember(session, member_id, erased_at)
    deleted = session.execute(delete(Notification).where(Notification.member_id == member_id)).rowcount
    counts = {"notices_deleted": deleted, "consents_forgotten": consents.forget(session, member_id)}
    erasure.report("support", member_id, **counts)
    return counts


def export(session: Session, member_id: str, message_of) -> pb.MemberNotificationData:
    """Every notice in her inbox (`message_of`: the api's Notification message)."""
    return pb.MemberNotificationData(notifications=[message_of(n) for n in session.scalars(
        select(Notification).where(Notification.member_id == member_id).order_by(Notification.id))])
