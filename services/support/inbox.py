"""The notification inbox: written from order events, read and marked by its owner only."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from servicekit import erasure
from servicekit.db import take_turns
from servicekit.errors import NotFound, Violations
from servicekit.ids import excerpt, try_int_id
from servicekit.times import SHANGHAI, parse_rfc3339, utcnow

from . import marketing, messages
from .models import Notification

MAX_IDS_PER_CALL = 100


def notify(session: Session, *, member_id: str, kind: str, title: str, body: str,
           order_id: str | None = None, coupon_id: str | None = None,
           refund_id: str = "", redemption_id: str | None = None,
           status_seq: int = 0) -> Notification | None:
    """Writes the notice unless the member already has one of this kind about this order (and
    refund, for a partial one) or coupon, or it is marketing and she has not consented to it. An
    order's notice takes its place in the order's own history (`status_seq`, the order's position
    in its status history when the event was written), whenever it arrives."""
    subject = ((Notification.order_id == order_id) & (Notification.refund_id == refund_id)
               if order_id else Notification.redemption_id == redemption_id
               if redemption_id else Notification.coupon_id == coupon_id)
    if not member_id:
        raise ValueError(f"{kind} for {order_id or coupon_id or redemption_id} names no member: "
                         "nobody to notify")
    if erasure.is_erased(session, member_id):  # she erased her account: a late event tells nobody
        return None
    if not marketing.may_send(session, member_id, kind):
        return None
    if order_id:  # the notices of one order, arriving on several queues at once, take turns
        take_turns(session, f"support.inbox:{member_id}:{order_id}")
    exists = session.scalar(select(Notification.id).where(
        Notification.member_id == member_id, Notification.kind == kind, subject))
    if exists is not None:
        return None
    notice = Notification(member_id=member_id, kind=kind, order_id=order_id, coupon_id=coupon_id,
                          refund_id=refund_id, redemption_id=redemption_id, title=title, body=body,
                          history_position=history_position(kind, status_seq),
                          created_at=datetime.now(timezone.utc))
    session.add(notice)
    session.flush()
    notice.list_rank = notice.id
    if order_id:
        _list_by_history(session, notice)
    return notice


# The statuses in the order an order goes through them: where a notice sits when its event comes
# from an order that did not yet say its status_seq.
STATUS_ORDER = ("order_created", "order_paid", "order_partly_shipped", "order_shipped",
                "order_delivered", "order_completed")
LAST = len(STATUS_ORDER) + 1  # refunded and cancelled end an order


def history_position(kind: str, status_seq: int) -> int:
    """Where a notice sits in its order's history: twice the order's status position (a partial
    refund one more, after the status the order had when it was refunded)."""
    if kind == "order_partly_refunded":
        return (status_seq or STATUS_ORDER.index("order_paid") + 1) * 2 + 1
    if status_seq:
        return status_seq * 2
    return (STATUS_ORDER.index(kind) + 1 if kind in STATUS_ORDER else LAST) * 2


def _list_by_history(session: Session, notice: Notification) -> None:
    """Hands the order's list ranks out again in the order of its history: the notices of other
    orders keep their places, and this order's newest in its history is listed newest. A notice
    for a state the order has already left is kept, but read: it is not news."""
    siblings = list(session.scalars(select(Notification).where(
        Notification.member_id == notice.member_id, Notification.order_id == notice.order_id)))
    ranks = sorted(n.list_rank or n.id for n in siblings)
    for sibling, rank in zip(sorted(siblings, key=lambda n: (n.history_position, n.id)), ranks,
                             strict=True):
        sibling.list_rank = rank
    if not is_news(session, notice):
        notice.read_at = notice.created_at


def is_news(session: Session, notice: Notification) -> bool:
    """False for a notice of an order whose history has already gone past it (a late "支付成功"
    after the refund): kept in the inbox, never announced (no WeChat push)."""
    if not notice.order_id:
        return True
    later = session.scalar(select(func.max(Notification.history_position)).where(
        Notification.member_id == notice.member_id, Notification.order_id == notice.order_id))
    return notice.history_position >= (later or 0)


def on_order_created(session: Session, created) -> Notification | None:
    """From mall.events.v1.OrderCreated: the confirmation, the moment the order exists."""
    deadline = parse_rfc3339(created.pay_deadline) \
        if created.pay_deadline else utcnow()
    title, body = messages.order_created(created.order_no or created.order_id, created.payable_fen,
                                         deadline.astimezone(SHANGHAI).strftime("%H:%M"))
    return notify(session, member_id=created.member_id, kind="order_created",
                  order_id=created.order_id, title=title, body=body, status_seq=created.status_seq)


def on_order_status_changed(session: Session, changed) -> Notification | None:
    """From mall.events.v1.OrderStatusChanged: shipped, delivered, completed, refunded ...
    (paid and cancelled come with their own events and notices)."""
    text = messages.status_changed(changed.to_status, changed.order_no or changed.order_id,
                                   changed.summary)
    if text is None:
        return None
    return notify(session, member_id=changed.member_id, kind=f"order_{changed.to_status}",
                  order_id=changed.order_id, title=text[0], body=text[1],
                  status_seq=changed.status_seq)


def on_coupon_expiring(session: Session, expiring) -> Notification | None:
    """From mall.events.v1.CouponExpiring (promotion, three days before the end)."""
    until = parse_rfc3339(expiring.valid_until) if expiring.valid_until else datetime.now(timezone.utc)
    title, body = messages.coupon_expiring(expiring.name, expiring.amount_fen, expiring.percent_off,
                                           until.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M"))
    return notify(session, member_id=expiring.member_id, kind="coupon_expiring",
                  coupon_id=expiring.coupon_id, title=title, body=body)


def on_points_redemption_failed(session: Session, failed) -> Notification | None:
    """From mall.events.v1.PointsRedemptionFailed (member): what points bought could not be
    delivered, and the points came back."""
    title, body = messages.points_redemption_failed(failed.item_title, failed.item_kind,
                                                    failed.points_returned, failed.reason)
    return notify(session, member_id=failed.member_id, kind="points_redemption_failed",
                  redemption_id=failed.redemption_id, title=title, body=body)


def on_order_paid(session: Session, paid) -> Notification | None:
    """From mall.events.v1.OrderPaid."""
    title, body = messages.order_paid(paid.order_no or paid.order_id, paid.paid_fen)
    return notify(session, member_id=paid.member_id, kind="order_paid", order_id=paid.order_id,
                  title=title, body=body, status_seq=paid.status_seq)


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
                  body=body, status_seq=refunded.status_seq)


def _shanghai(text: str) -> str:
    moment = parse_rfc3339(text) if text else utcnow()
    return moment.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


def on_order_deposit_paid(session: Session, paid) -> Notification | None:
    """From mall.events.v1.OrderDepositPaid: a pre-sale's deposit is in; when the balance opens."""
    title, body = messages.order_deposit_paid(paid.order_no or paid.order_id, paid.deposit_fen,
                                              paid.balance_fen, _shanghai(paid.balance_from),
                                              paid.unpaid_balance)
    return notify(session, member_id=paid.member_id, kind="order_deposit_paid",
                  order_id=paid.order_id, title=title, body=body, status_seq=paid.status_seq)


def on_order_balance_due(session: Session, due) -> Notification | None:
    """From mall.events.v1.OrderBalanceDue: a pre-sale's balance window opened (transactional:
    she must pay it in time or the order closes), once per order."""
    title, body = messages.order_balance_due(due.order_no or due.order_id, due.summary,
                                             due.balance_fen, _shanghai(due.balance_until),
                                             due.unpaid_balance)
    return notify(session, member_id=due.member_id, kind="order_balance_due",
                  order_id=due.order_id, title=title, body=body, status_seq=due.status_seq)


PLACEMENT_FAILED = "placement_failed"  # order's reason for a checkout that never became an order


def on_order_cancelled(session: Session, cancelled) -> Notification | None:
    """From mall.events.v1.OrderCancelled. A checkout that failed before the order existed for
    the shopper is not news to them: no notice."""
    if cancelled.reason == PLACEMENT_FAILED:
        return None
    title, body = messages.order_cancelled(cancelled.order_no or cancelled.order_id,
                                           cancelled.reason)
    return notify(session, member_id=cancelled.member_id, kind="order_cancelled",
                  order_id=cancelled.order_id, title=title, body=body,
                  status_seq=cancelled.status_seq)


def page(session: Session, member_id: str, limit: int, after_rank: int | None,
         unread_only: bool = False) -> list[Notification]:
    """Newest first (by list rank: an order's notices in the order of its history);
    `limit + 1` rows tell whether a next page exists."""
    query = (select(Notification).where(Notification.member_id == member_id)
             .order_by(Notification.list_rank.desc()).limit(limit + 1))
    if after_rank is not None:
        query = query.where(Notification.list_rank < after_rank)
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
