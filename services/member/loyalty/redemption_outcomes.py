"""What became of a points-mall redemption, told by the services that deliver it (the worker's
handlers): promotion issued the coupon or could not (`coupon.issued` / `coupon.issue_failed`),
logistics planned the gift's parcel or had no stock (`gift.shipment_planned` / `gift.unavailable`).

The redemption's state machine: pending -> fulfilled, or pending -> failed with its points given
back (a `return` entry into the lots the redeem took them from, the item's stock back) and
`points.redemption_failed` for support to tell the shopper. Fulfilled and failed are final: a
failure heard after the coupon was issued refunds nothing, a redelivered failure nothing twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from mall.events.v1 import member_events_pb2
from sqlalchemy.orm import Session

from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..models import MallItem, Redemption
from . import points

log = logging.getLogger(__name__)

PENDING, FULFILLED, FAILED = "pending", "fulfilled", "failed"


@dataclass(frozen=True)
class Outcome:
    redemption_id: str
    member_id: str
    reason: str = ""


def fulfilled(session: Session, outcome: Outcome) -> Redemption | None:
    """The coupon was issued / the gift's parcel planned: the redemption can no longer fail."""
    redemption = _locked(session, outcome)
    if redemption is None or redemption.status != PENDING:
        return None
    redemption.status, redemption.settled_at = FULFILLED, utcnow()
    return redemption


def failed(runtime: Runtime, session: Session, outcome: Outcome) -> Redemption | None:
    """The coupon or the gift could not be had: the points come back, once."""
    redemption = _locked(session, outcome)
    if redemption is None:
        return None
    if redemption.status != PENDING:
        if redemption.status == FULFILLED:
            log.warning("redemption %s failed (%s) after it was fulfilled: no points returned",
                        redemption.id, outcome.reason)
        return None
    now = utcnow()
    item = session.get(MallItem, redemption.item_id, with_for_update=True)  # lock order: account first (_locked)
    title = item.title if item is not None else redemption.item_id
    spent = points.existing(session, points.REDEEM, redemption.id)
    if spent is not None:
        points.give_back(session, spent, now=now,
                         reason=f"points mall: {title} could not be delivered ({outcome.reason})")
    if item is not None:
        item.stock += redemption.quantity
    redemption.status, redemption.failed_reason = FAILED, outcome.reason[:32]
    redemption.settled_at = now
    runtime.emit(session, "points.redemption_failed", member_events_pb2.PointsRedemptionFailed(
        redemption_id=redemption.id, member_id=redemption.member_id, item_id=redemption.item_id,
        item_title=title, item_kind=item.kind if item is not None else "",
        points_returned=-spent.points if spent is not None else 0, quantity=redemption.quantity,
        reason=outcome.reason, failed_at=rfc3339(now)))
    return redemption


def _locked(session: Session, outcome: Outcome) -> Redemption | None:
    """The redemption, after its member's points account (the ledger's lock order), or None when
    this database never made it (another source's event, or a member erased since)."""
    redemption = session.get(Redemption, outcome.redemption_id)
    if redemption is None or redemption.member_id != outcome.member_id:
        log.warning("no redemption %s of member %s: outcome %r ignored", outcome.redemption_id,
                    outcome.member_id, outcome.reason)
        return None
    points.account(session, redemption.member_id)
    session.refresh(redemption, with_for_update=True)
    return redemption
