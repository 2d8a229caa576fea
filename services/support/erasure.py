"""A member's erasure (member.deleted) and export. Her notices are deleted (messages to her, no
record anyone must keep); so are her reviews with their photos (her words and pictures of her:
the products' summaries are refreshed and announced without them), their tasks, and the order
lines support kept to know what she may review. A notice or a line an event brings about her
later is not written (servicekit.erasure)."""
from __future__ import annotations

from datetime import datetime

from mall.support.v1 import support_pb2 as pb
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from servicekit import consents, erasure

from . import aftersales, photos, summary
from .models import AfterSale, Notification, OrderLine, Review, ReviewPhoto, ReviewTask


def erase_member(session: Session, member_id: str, erased_at: datetime | None = None, *,
                 runtime=None, storage=None) -> dict:
    """`runtime` and `storage` (the worker's): her reviews' summaries are announced again and
    their photo files deleted once the erasure commits."""
    erasure.remember(session, member_id, erased_at)
    deleted = session.execute(delete(Notification).where(Notification.member_id == member_id)).rowcount
    mine = list(session.scalars(select(Review).where(Review.member_id == member_id)))
    ids = [r.id for r in mine]
    keys = [key for p in session.scalars(select(ReviewPhoto).where(ReviewPhoto.review_id.in_(ids)))
            for key in photos.keys_of(p)] if ids else []
    if ids:
        session.execute(delete(ReviewPhoto).where(ReviewPhoto.review_id.in_(ids)))
        session.execute(delete(ReviewTask).where(ReviewTask.review_id.in_(ids)))
        session.execute(delete(Review).where(Review.id.in_(ids)))
    aftersale_keys = aftersales.erase(session, member_id)
    keys += aftersale_keys
    lines = session.execute(delete(OrderLine).where(OrderLine.member_id == member_id)).rowcount
    if runtime is not None:
        for product_id in sorted({r.product_id for r in mine}):
            summary.refresh(runtime, session, product_id)
    if storage is not None and keys and runtime is not None:
        runtime.after_commit(session, lambda: [storage.delete(key) for key in keys])
    counts = {"notices_deleted": deleted, "consents_forgotten": consents.forget(session, member_id),
              "reviews_deleted": len(ids), "review_photo_files": len(keys) - len(aftersale_keys),
              "order_lines_deleted": lines, "aftersale_photo_files": len(aftersale_keys)}
    erasure.report("support", member_id, **counts)
    return counts


def export(session: Session, member_id: str, message_of, reviews_of=None,
           aftersales_of=None) -> pb.MemberNotificationData:
    """Every notice in her inbox (`message_of`: the api's Notification message) and every review
    of hers (`reviews_of(session, rows)`: the api's Review messages), oldest first."""
    data = pb.MemberNotificationData(notifications=[message_of(n) for n in session.scalars(
        select(Notification).where(Notification.member_id == member_id).order_by(Notification.id))])
    if reviews_of is not None:
        data.reviews.extend(reviews_of(session, list(session.scalars(
            select(Review).where(Review.member_id == member_id).order_by(Review.id)))))
    if aftersales_of is not None:
        data.aftersales.extend(aftersales_of(session, list(session.scalars(
            select(AfterSale).where(AfterSale.member_id == member_id).order_by(AfterSale.id)))))
    return data
