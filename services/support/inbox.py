"""The notification inbox: written from order events, read and marked by its owner only."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from servicekit.errors import NotFound, Violations
from servicekit.ids import excerpt, try_int_id
from servicekit.times import SHANGHAI, parse_rfc3339, utcnow

from . import messages
from .models import Notification

MAX_IDS_PER_CALL = 100


def notify(session: Session, *, member_id: str, kind: str, title: str, body: str,
           order_id: str | None = None, coupon_id: str | None = None,
           refund_id: str = "") -> Notification | None:
    """Writes the notice unless the member already has one of this kind about this order (and
    refund, for a partial one) or coupon."""
    subject = ((Notification.order_id == order_id) & (Notification.refund_id == refund_id)
               if order_id else Notification.coupon_id == coupon_id)
    if not member_id:
        raise ValueError(f"{kind} for {order_id or coupon_id} names no member: nobody to notify")
    exists = session.scalar(select(Notification.id).where(
        Notification.member_id == member_id, Notification.kind == kind, subject))
    if exists is not None:
        return None
    notice = Notification(member_id=member_id, kind=kind, order_id=order_id, coupon_id=coupon_id,
                          refund_id=refund_id, title=title, body=body,
                          created_at=datetime.now(timezone.utc))
    session.add(notice)
    session.flush()
    return notice


def on_order_created(session: Session, created) -> Notification | None:
    """From mall.events.v1.OrderCreated: the confirmation, the moment the order exists."""
    deadline = parse_rfc3339(created.pay_deadline) \
        if created.pay_deadline else utcnow()
    title, body = messages.order_created(created.order_no or created.order_id, created.payable_fen,
                                         deadline.astimezone(SHANGHAI).strftime("%H:%M"))
    return notify(session, member_id=created.member_id, kind="order_created",
                  order_id=created.order_id, title=title, body=body)


def on_order_status_changed(session: Session, changed) -> Notification | None:
    """From mall.events.v1.OrderStatusChanged: shipped, delivered, completed, refunded ...
    (paid and cancelled come with their own events and notices)."""
    text = messages.status_changed(changed.to_status, changed.order_no or changed.order_id,
                                   changed.summary)
    if text is None:
        return None
    return notify(session, member_id=changed.member_id, kind=f"order_{changed.to_status}",
                  order_id=changed.order_id, title=text[0], body=text[1])


def on_coupon_expiring(session: Session, expiring) -> Notification | None:
    """From mall.events.v1.CouponExpiring (promotion, three days before the end)."""
    until = parse_rfc3339(expiring.valid_until) if expiring.valid_until else datetime.now(timezone.utc)
    title, body = messages.coupon_expiring(expiring.name, expiring.amount_fen, expiring.percent_off,
                                           until.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M"))
    return notify(session, member_id=expiring.member_id, kind="coupon_expiring",
                  coupon_id=expiring.coupon_id, title=title, body=body)


def on_order_paid(session: Session, paid) -> Notification | None:
    """From mall.events.v1.OrderPaid."""
    title, body = messages.order_paid(paid.order_no or paid.order_id, paid.paid_fen)
    return notify(session, member_id=paid.member_id, kind="order_paid", order_id=paid.order_id,
                  title=title, body=body)


def on_order_refunded(session: Session, refunded) -> Notification | None:
    """From mall.events.v1.OrderRefunded: a partial refund is its own notice, one per refund (the
    order stays paid, so no status change tells the shopper). A full refund says nothing here:
    the order's move to refunded does (order.status_changed)."""
    if refunded.full:
        return None
    title, body = messages.order_partly_refunded(refunded.order_no or refunded.order_id,
                                                 refunded.refunded_fen)
    return notify(session, member_id=refunded.member_id, kind="order_partly_refunded",
                  order_id=refunded.order_id, refund_id=refunded.refund_id, title=title,
                  body=body)


PLACEMENT_FAILED = "placement_failed"  # order's reason for a checkout that never became an order


def on_order_cancelled(session: Session, cancelled) -> Notification | None:
    """From mall.events.v1.OrderCancelled. A checkout that failed before the order existed for
    the shopper is not news to them: no notice."""
    if cancelled.reason == PLACEMENT_FAILED:
        return None
    title, body = messages.order_cancelled(cancelled.order_no or cancelled.order_id,
                                           cancelled.reason)
    return notify(session, member_id=cancelled.member_id, kind="order_cancelled",
                  order_id=cancelled.order_id, title=title, body=body)


def page(session: Session, member_id: str, limit: int, after_id: int | None,
         unread_only: bool = False) -> list[Notification]:
    """Newest first; `limit + 1` rows tell whether a next page exists."""
    query = (select(Notification).where(Notification.member_id == member_id)
             .order_by(Notification.id.desc()).limit(limit + 1))
    if after_id is not None:
        query = query.where(Notification.id < after_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query))


def unread_count(session: Session, member_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.member_id == member_id, Notification.read_at.is_(None)))


def mark_read(session: Session, member_id: str, ids: list[str], everything: bool) -> int:
    """Marks the member's notices read; returns how many were unread. An id that is not one of
    the member's own is NOT_FOUND and nothing is marked."""
    v = Violations()
    v.check(bool(ids) != everything, "ids", "exactly_one",
            "give the ids to mark, or all = true to mark every notification; not both, not neither")
    v.check(len(ids) <= MAX_IDS_PER_CALL, "ids", "max_items",
            f"at most {MAX_IDS_PER_CALL} ids per call; use all = true for more")
    malformed = [i for i, value in enumerate(ids) if try_int_id(value) is None]
    for i in malformed[:5]:
        v.add(f"ids[{i}]", "format", f"{excerpt(ids[i])} is not a notification id (digits, as listed)")
    v.raise_if_any()

    now = datetime.now(timezone.utc)
    mine = Notification.member_id == member_id
    if everything:
        return session.execute(update(Notification).where(mine, Notification.read_at.is_(None))
                               .values(read_at=now)).rowcount
    wanted = {int(value) for value in ids}
    found = set(session.scalars(select(Notification.id).where(mine, Notification.id.in_(wanted))))
    if missing := sorted(wanted - found):
        # Someone else's notice answers exactly like one that does not exist.
        raise NotFound(f"no notification {', '.join(map(str, missing[:5]))} in your inbox")
    return session.execute(update(Notification).where(
        mine, Notification.id.in_(wanted), Notification.read_at.is_(None))
        .values(read_at=now)).rowcount
