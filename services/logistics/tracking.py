"""Tracking: each step a carrier reports becomes a timeline entry, and moves the shipment when
the state machine allows it, so a repeated or late report is harmless:

    created → picked_up → in_transit → out_for_delivery → delivered
    any state but delivered/returned → exception (a problem) → back on the path, or returned
    created → cancelled (its order stopped before pick-up; final)
    picked up or later → returning (intercepted for its order's stop) → returned only

A step repeated (same carrier code and time) is recorded once; a step behind the shipment's
state stays in the timeline without moving it back. Steps arrive by push (the carrier's signed
webhook, through the gateway) or by polling the carrier's query API for shipments that have been
silent too long.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.config import env_float
from servicekit.errors import FieldViolation, NotFound
from servicekit.runtime import Runtime

from . import carriers, fengqiao, shipments
from .models import Shipment, TrackingEvent

log = logging.getLogger(__name__)

PATH = ("created", "picked_up", "in_transit", "out_for_delivery", "delivered")
FINAL = ("delivered", "returned", "cancelled")


def may_move(current: str, new: str) -> bool:
    if current in FINAL or new == current:
        return False
    if current == "returning":  # a late step of the way out never undoes the interception
        return new == "returned"
    if new in ("cancelled", "returning"):
        return False  # only stopping.py moves a shipment there (record_step with announce)
    if new in ("exception", "returned"):
        return True
    if current == "exception":
        return new != "created"  # the carrier resolved the problem: back on the path
    return PATH.index(new) > PATH.index(current)


def record_step(runtime: Runtime, session: Session, shipment: Shipment, state: str | None,
                occurred_at: datetime, *, source: str, dedupe_key: str, location: str = "",
                description: str = "", carrier_code: str = "", announce: bool = False) -> bool:
    """Adds the step to the timeline (once) and moves the shipment if it may; True if moved.
    `announce` publishes the step even though the state stays (the waybill's "created")."""
    seen = session.scalar(select(TrackingEvent.id).where(
        TrackingEvent.shipment_id == shipment.id, TrackingEvent.dedupe_key == dedupe_key))
    if seen is not None:
        return False
    step = TrackingEvent(shipment_id=shipment.id, state=state or shipment.state,
                         carrier_code=carrier_code, occurred_at=occurred_at, location=location,
                         description=description, source=source, dedupe_key=dedupe_key[:120],
                         received_at=datetime.now(timezone.utc))
    session.add(step)
    session.flush()
    moved = state is not None and (announce or may_move(shipment.state, state))
    # An exception or return reported for a time before the current state is old news.
    if moved and state in ("exception", "returned") and occurred_at < shipment.state_at:
        moved = False
    if moved:
        shipment.state, shipment.state_at = state, occurred_at
        shipment.updated_at = datetime.now(timezone.utc)
        shipments.announce(runtime, session, shipment, step)
        if state == "returned":  # a stopped parcel is back in the warehouse: back on the shelf
            from .stopping import came_back
            came_back(runtime, session, shipment)
        if state in FINAL:  # an erased member's parcel arrived: its recipient goes now
            from .erasure import after_final_step
            after_final_step(session, shipment)
    return moved


def apply_routes(runtime: Runtime, session: Session, carrier: str,
                 routes: list[fengqiao.Route], source: str) -> tuple[int, list[str]]:
    """Records carrier routes; returns (steps that moved a shipment, unknown waybills)."""
    moved, unknown = 0, []
    for route in sorted(routes, key=lambda r: r.accepted_at):
        shipment = session.scalar(select(Shipment).where(
            Shipment.carrier == carrier, Shipment.waybill_no == route.waybill_no)
            .with_for_update(of=Shipment))
        if shipment is None:
            unknown.append(route.waybill_no)
            continue
        shipment.last_heard_at = datetime.now(timezone.utc)
        moved += record_step(
            runtime, session, shipment, route.state, route.accepted_at, source=source,
            dedupe_key=f"{route.op_code}|{route.accepted_at.isoformat()}",
            location=route.address, description=route.remark, carrier_code=route.op_code)
    return moved, unknown


def max_skew_seconds() -> float:
    return env_float("CARRIER_PUSH_MAX_SKEW_SECONDS", 300, "logistics")


def handle_push(runtime: Runtime, carrier: str, body: bytes) -> tuple[int, bytes]:
    """A carrier's route push as the gateway received it: (HTTP status, the carrier's reply).
    A push that is not correctly and recently signed is refused, logged, and changes nothing."""
    if carrier not in carriers.CARRIERS:
        raise NotFound(f"no carrier {carrier!r}", [FieldViolation(
            "carrier", "known", f"carriers are {', '.join(sorted(carriers.CARRIERS))}")])
    account = carriers.account(carrier)
    try:
        form = fengqiao.parse_form(body)
        msg_data = fengqiao.verify(form, account.checkword, max_skew_seconds())
        routes = fengqiao.routes_of_push(msg_data)
    except (fengqiao.SignatureError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        log.warning("refused a %s route push: %s", carrier, err)
        return 400, fengqiao.push_reply(False, f"refused: {err}")
    with runtime.transaction() as session:
        moved, unknown = apply_routes(runtime, session, carrier, routes, "push")
    if unknown:  # not ours (or not booked yet): acknowledged, or the carrier pushes forever
        log.warning("%s pushed routes of unknown waybills %s", carrier, unknown[:10])
    log.info("%s push: %s routes, %s moved a shipment", carrier, len(routes), moved)
    return 200, fengqiao.push_reply(True)


def silence_seconds() -> float:
    return env_float("TRACKING_SILENCE_SECONDS", 6 * 3600, "logistics")


def poll_silent(runtime: Runtime, now: datetime | None = None, limit: int = 50) -> int:
    """Asks the carriers about shipments not heard of for a while (a worker timer). Rows are
    claimed first (SKIP LOCKED, their clock reset), so replicas never ask twice; the HTTP calls
    run outside any transaction."""
    now = now or datetime.now(timezone.utc)
    with runtime.transaction() as session:
        silent = list(session.scalars(
            select(Shipment).where(Shipment.state.not_in(FINAL),
                                   Shipment.waybill_no.is_not(None),
                                   Shipment.last_heard_at <= now - timedelta(
                                       seconds=silence_seconds()))
            .order_by(Shipment.last_heard_at).limit(limit)
            .with_for_update(skip_locked=True, of=Shipment)))
        by_carrier: dict[str, list[str]] = {}
        for shipment in silent:
            shipment.last_heard_at = now
            by_carrier.setdefault(shipment.carrier, []).append(shipment.waybill_no)
    moved = 0
    for carrier, waybills in by_carrier.items():
        account = carriers.account(carrier)
        client = fengqiao.FengqiaoClient(account.url, account.partner_id, account.checkword)
        for start in range(0, len(waybills), 10):  # SF answers up to 10 waybills a query
            try:
                routes = client.search_routes(waybills[start:start + 10])
            except fengqiao.CarrierError as err:
                log.warning("polling %s failed: %s", carrier, err)
                continue
            with runtime.transaction() as session:
                moved += apply_routes(runtime, session, carrier, routes, "poll")[0]
    return moved
