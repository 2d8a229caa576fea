"""WeChat Pay orders' shipping info told to WeChat, so the shopper's money is released: one upload
per booked waybill, and the receipt reminder once the carrier delivered every parcel.

Events arrive in any order and more than once, so the handlers only *record* (in the inbox's
transaction): the order's payment (`payment.succeeded`: method, WeChat's transaction id, the
member), its shipment count and waybills (`shipment.created` / `picked_up` / `delivered`, each
carrying the waybill once booked), and the deliveries. A `wechat_shipping_calls` row per waybill
(`upload`) and one per order (`confirm`, when all its parcels are delivered) is what WeChat must
hear; its primary key makes a redelivery change nothing.

Then `deliver_due` makes the calls that may go: the order paid with WeChat Pay (an order paid
otherwise has its rows `skipped`), every upload done before the reminder. A row is *claimed*
(`sending`, committed) under a lock on its order row, so two replicas never call for one order at
once (a split order's last upload says `is_all_delivered` only when its siblings are done). No
connection is held while WeChat answers. The outcome is recorded: `done`, `pending` with a
backed-off `next_attempt_at` when WeChat said try later (the worker's timer picks it up), or
`failed`. A `sending` claim older than the claim timeout (the worker died mid-call) is tried
again: a repeat of what WeChat already has is answered 10060023 / 10060030, counted done.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from servicekit.config import env, env_float, env_int
from servicekit.db import dialect_insert
from servicekit.times import parse_rfc3339, utcnow

from ..models import Member, WechatShippingCall, WechatShippingOrder
from .login import WechatConfig
from .openapi import WechatOpenApi
from .shipping_info import (
    DEFAULT_EXPRESS_COMPANIES,
    DONE,
    FAILED,
    RETRY,
    ReceiptReminder,
    ShippingInfoClient,
    WaybillUpload,
    item_desc,
    masked_phone,
)

log = logging.getLogger(__name__)

CALLS = Counter("mall_member_wechat_shipping_calls_total",
                "WeChat shipping-info calls by kind and outcome", ["kind", "outcome"])

WECHAT_PAY_METHODS = frozenset({"wechat_jsapi"})
UPLOAD, CONFIRM = "upload", "confirm"
PENDING, SENDING, SKIPPED = "pending", "sending", "skipped"
DEFAULT_CONTACT = "4008000000"   # logistics' default sender number (MALL_LOGISTICS_SENDER_TEL)


def parse_companies(text: str) -> dict[str, str]:
    """"sf=SF,zto=ZTO" -> {"sf": "SF", "zto": "ZTO"}."""
    pairs = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        ours, _, theirs = (s.strip() for s in pair.partition("="))
        if not ours or not theirs:
            raise ValueError(f"MALL_MEMBER_WECHAT_EXPRESS_COMPANIES: {pair!r} is not carrier=CODE")
        pairs[ours.lower()] = theirs
    return pairs


@dataclass(frozen=True)
class ShippingSettings:
    express_companies: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_EXPRESS_COMPANIES))
    contact: str = masked_phone(DEFAULT_CONTACT)  # the sender's number, masked
    retry_seconds: float = 60.0       # first back-off; doubles per try
    max_retry_seconds: float = 6 * 3600.0
    max_attempts: int = 12            # tries before a row is `failed`
    claim_timeout_seconds: float = 300.0

    @classmethod
    def from_env(cls) -> "ShippingSettings":
        extra = env("WECHAT_EXPRESS_COMPANIES", "", "member")
        return cls(express_companies={**DEFAULT_EXPRESS_COMPANIES, **parse_companies(extra)},
                   contact=masked_phone(env("WECHAT_SHIPPING_CONTACT",
                                            env("SENDER_TEL", DEFAULT_CONTACT, "logistics"),
                                            "member")),
                   retry_seconds=env_float("WECHAT_SHIPPING_RETRY_SECONDS", 60.0, "member"),
                   max_attempts=env_int("WECHAT_SHIPPING_MAX_ATTEMPTS", 12, "member"))

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.retry_seconds * 2 ** max(0, attempts - 1),
                                     self.max_retry_seconds))


class WechatShipper:
    """What the worker holds for its lifetime: the settings and the client (token, pool)."""

    def __init__(self, settings: ShippingSettings, client: ShippingInfoClient):
        self.settings = settings
        self.client = client

    @classmethod
    def from_env(cls) -> "WechatShipper":
        return cls(ShippingSettings.from_env(),
                   ShippingInfoClient(WechatOpenApi(WechatConfig.from_env())))

    def close(self) -> None:
        self.client.api.close()


# --- recording what the events say (in the handler's transaction) -------------------------------

def _order(session: Session, order_id: str, member_id: str) -> WechatShippingOrder:
    """The order's row, created on first sight and locked for this transaction."""
    now = utcnow()
    session.execute(dialect_insert(session, WechatShippingOrder.__table__).values(
        order_id=order_id, member_id=member_id or "", payment_method="", transaction_id=None,
        shipment_count=0, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["order_id"]))
    return session.scalars(select(WechatShippingOrder).where(
        WechatShippingOrder.order_id == order_id).with_for_update()).one()


def record_payment(session: Session, payment) -> None:
    """`payment.succeeded`: a WeChat Pay order gets its transaction id; any other order's calls
    are skipped (WeChat holds no money for it)."""
    order = _order(session, payment.order_id, payment.member_id)
    order.payment_method = payment.method
    order.member_id = order.member_id or payment.member_id
    if payment.method in WECHAT_PAY_METHODS:
        order.transaction_id = payment.provider_transaction_id or None
    else:
        session.execute(update(WechatShippingCall)
                        .where(WechatShippingCall.order_id == order.order_id,
                               WechatShippingCall.status == PENDING)
                        .values(status=SKIPPED, last_errmsg=f"paid with {payment.method}"))
    order.updated_at = utcnow()


def record_shipment(session: Session, shipment, *, delivered: bool = False) -> None:
    """A shipment event: its waybill (once booked) becomes an upload; a delivery is noted, and
    when every parcel of the order is delivered the order's reminder is due."""
    if not shipment.waybill_no:
        return  # planned, not booked: nothing to tell WeChat yet
    order = _order(session, shipment.order_id, shipment.member_id)
    order.shipment_count = max(order.shipment_count, shipment.shipment_count or 1)
    order.updated_at = now = utcnow()
    skipped = order.payment_method and order.payment_method not in WECHAT_PAY_METHODS
    session.execute(dialect_insert(session, WechatShippingCall.__table__).values(
        order_id=order.order_id, kind=UPLOAD, waybill_no=shipment.waybill_no,
        carrier=shipment.carrier, shipment_id=shipment.shipment_id,
        item_desc=item_desc(shipment.items), delivered_at=None,
        status=SKIPPED if skipped else PENDING, attempts=0, calls=0, last_errcode=None,
        last_errmsg="", next_attempt_at=None, claimed_at=None, created_at=now, done_at=None,
    ).on_conflict_do_nothing(index_elements=["order_id", "kind", "waybill_no"]))
    if not delivered:
        return
    at = parse_rfc3339(shipment.occurred_at) if shipment.occurred_at else now
    session.execute(update(WechatShippingCall)
                    .where(WechatShippingCall.order_id == order.order_id,
                           WechatShippingCall.kind == UPLOAD,
                           WechatShippingCall.waybill_no == shipment.waybill_no,
                           WechatShippingCall.delivered_at.is_(None))
                    .values(delivered_at=at))
    delivered_count = session.scalar(
        select(func.count()).select_from(WechatShippingCall)
        .where(WechatShippingCall.order_id == order.order_id, WechatShippingCall.kind == UPLOAD,
               WechatShippingCall.delivered_at.is_not(None)))
    if delivered_count >= order.shipment_count:
        session.execute(dialect_insert(session, WechatShippingCall.__table__).values(
            order_id=order.order_id, kind=CONFIRM, waybill_no="", carrier="", shipment_id="",
            item_desc="", delivered_at=None, status=SKIPPED if skipped else PENDING,
            attempts=0, calls=0, last_errcode=None, last_errmsg="", next_attempt_at=None,
            claimed_at=None, created_at=now, done_at=None,
        ).on_conflict_do_nothing(index_elements=["order_id", "kind", "waybill_no"]))


# --- making the calls --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claimed:
    order_id: str
    kind: str
    waybill_no: str
    request: WaybillUpload | ReceiptReminder | None
    problem: str = ""  # why it cannot be sent at all (no openid, unknown carrier)


def deliver_due(session: Session, shipper: WechatShipper, *, order_id: str | None = None,
                limit: int = 50) -> int:
    """Makes up to `limit` due calls (of one order, or of all), one at a time; returns how many
    were made. Commits `session` (whatever it held first, the inbox row included)."""
    session.commit()
    made = 0
    while made < limit:
        claimed = _claim(session, shipper.settings, order_id)
        session.commit()
        if claimed is None:
            break
        made += 1
        _send(session, shipper, claimed)
        session.commit()
    return made


def _due(now: datetime, timeout: timedelta, order_id: str | None):
    call, sibling = WechatShippingCall, aliased(WechatShippingCall)
    stale = now - timeout
    busy_sibling = exists().where(sibling.order_id == call.order_id, sibling.status == SENDING,
                                  sibling.claimed_at >= stale,
                                  or_(sibling.kind != call.kind,
                                      sibling.waybill_no != call.waybill_no))
    unfinished_upload = exists().where(sibling.order_id == call.order_id,
                                       sibling.kind == UPLOAD, sibling.status != "done")
    conditions = [
        or_(and_(call.status == PENDING,
                 or_(call.next_attempt_at.is_(None), call.next_attempt_at <= now)),
            and_(call.status == SENDING, call.claimed_at < stale)),
        WechatShippingOrder.payment_method.in_(WECHAT_PAY_METHODS),
        WechatShippingOrder.transaction_id.is_not(None),
        ~busy_sibling,
        or_(call.kind == UPLOAD, ~unfinished_upload),
    ]
    if order_id is not None:
        conditions.append(call.order_id == order_id)
    return conditions


def _claim(session: Session, settings: ShippingSettings, order_id: str | None) -> _Claimed | None:
    now = utcnow()
    found = session.execute(
        select(WechatShippingCall, WechatShippingOrder)
        .join(WechatShippingOrder, WechatShippingOrder.order_id == WechatShippingCall.order_id)
        .where(*_due(now, timedelta(seconds=settings.claim_timeout_seconds), order_id))
        .order_by(WechatShippingCall.kind.desc(), WechatShippingCall.created_at)  # uploads first
        .limit(1)
        .with_for_update(skip_locked=True, of=WechatShippingOrder)).first()
    if found is None:
        return None
    call, order = found
    call.status, call.claimed_at = SENDING, now
    call.attempts += 1
    member = session.get(Member, order.member_id) if order.member_id else None
    if member is None or member.deleted_at is not None:
        return _Claimed(call.order_id, call.kind, call.waybill_no, None,
                        "the payer's openid is unknown (member unknown or deleted)")
    if call.kind == CONFIRM:
        return _Claimed(call.order_id, call.kind, call.waybill_no,
                        ReceiptReminder(order.transaction_id, _received_at(session, order)))
    company = settings.express_companies.get(call.carrier.lower())
    if company is None:
        return _Claimed(call.order_id, call.kind, call.waybill_no, None,
                        f"no WeChat carrier code for {call.carrier!r} "
                        "(MALL_MEMBER_WECHAT_EXPRESS_COMPANIES)")
    uploads = list(session.scalars(select(WechatShippingCall).where(
        WechatShippingCall.order_id == order.order_id, WechatShippingCall.kind == UPLOAD)))
    split = order.shipment_count > 1
    all_delivered = split and len(uploads) >= order.shipment_count and all(
        u.status == "done" for u in uploads if u.waybill_no != call.waybill_no)
    return _Claimed(call.order_id, call.kind, call.waybill_no, WaybillUpload(
        transaction_id=order.transaction_id, openid=member.openid, tracking_no=call.waybill_no,
        express_company=company, item_desc=call.item_desc or "商品",
        consignor_contact=settings.contact, split=split, all_delivered=all_delivered, at=now))


def _received_at(session: Session, order: WechatShippingOrder) -> datetime:
    """The last parcel's delivery; never before the last upload, since WeChat refuses a signing
    time before the shipping time (10060029) and the carrier's clock may run behind ours."""
    delivered, uploaded = session.execute(
        select(func.max(WechatShippingCall.delivered_at), func.max(WechatShippingCall.done_at))
        .where(WechatShippingCall.order_id == order.order_id,
               WechatShippingCall.kind == UPLOAD)).one()
    moments = [m for m in (delivered, uploaded and uploaded + timedelta(seconds=1)) if m]
    return max(moments) if moments else utcnow()


def _send(session: Session, shipper: WechatShipper, claimed: _Claimed) -> None:
    key = (WechatShippingCall.order_id == claimed.order_id,
           WechatShippingCall.kind == claimed.kind,
           WechatShippingCall.waybill_no == claimed.waybill_no)
    now = utcnow()
    if claimed.request is None:
        session.execute(update(WechatShippingCall).where(*key).values(
            status=FAILED, last_errcode=None, last_errmsg=claimed.problem[:256], claimed_at=None))
        CALLS.labels(claimed.kind, FAILED).inc()
        log.error("WeChat %s for order %s not sent: %s", claimed.kind, claimed.order_id,
                  claimed.problem)
        return
    if isinstance(claimed.request, WaybillUpload):
        outcome = shipper.client.upload(claimed.request)
    else:
        outcome = shipper.client.remind_receipt(claimed.request)
    row = session.scalars(select(WechatShippingCall).where(*key).with_for_update()).one()
    row.calls += outcome.calls
    row.last_errcode, row.last_errmsg = outcome.errcode, outcome.errmsg[:256]
    row.claimed_at = None
    status = outcome.status
    if status == DONE:
        row.status, row.done_at, row.next_attempt_at = "done", now, None
    elif status == RETRY and row.attempts < shipper.settings.max_attempts:
        row.status, row.next_attempt_at = PENDING, now + shipper.settings.backoff(row.attempts)
    else:
        status = FAILED
        row.status, row.next_attempt_at = FAILED, None
    CALLS.labels(claimed.kind, status).inc()
    log.log(logging.ERROR if status == FAILED else logging.INFO,
            "WeChat %s for order %s (waybill %s): %s, errcode %s, try %s",
            claimed.kind, claimed.order_id, claimed.waybill_no or "-", row.status,
            outcome.errcode, row.attempts)
