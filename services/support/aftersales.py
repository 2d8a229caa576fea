"""After-sales requests (售后): the shopper applies per line and quantity (refund only, return and
refund, exchange, repair) with a reason, text and up to 6 photos; customer service approves,
refuses, asks for more photos or refunds partially; logistics' and payment's events move the
request on; the worker's timers approve unanswered requests and expire returns never sent.
The rules and the state machine are pure (aftersale_rules.py); each move is written with its
history, its events (aftersale.*) and the shopper's notice, in one transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mall.events.v1 import support_events_pb2 as events
from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from servicekit import erasure
from servicekit.config import env_float
from servicekit.db import dialect_insert, row_by_id, take_turns
from servicekit.errors import FailedPrecondition, FieldViolation, NotFound, Violations
from servicekit.ids import excerpt, try_int_id
from servicekit.times import rfc3339, utcnow

from . import aftersale_rules as rules
from . import eligibility, inbox, marketing, photos
from .models import (
    AfterSale,
    AfterSaleLine,
    AfterSalePhoto,
    AfterSaleSettings,
    LineRefund,
    OrderLine,
    OrderShipped,
)

MAX_PHOTOS = 6
MAX_TEXT = 500
MAX_LINES = 50
PREFIX = "aftersale:"  # refund_request_id of a request's refund
NOT_TAKEN = ("refused", "withdrawn", "expired")  # outcomes that give the units back


def answer_seconds() -> float:
    """The merchant's time to answer before a request is approved automatically (48 h)."""
    return env_float("AFTERSALE_ANSWER_SECONDS", 48 * 3600.0, "support")


def return_seconds() -> float:
    """The shopper's time to send the goods back once approved (7 days)."""
    return env_float("AFTERSALE_RETURN_SECONDS", 7 * 86400.0, "support")


# ------------------------------------------------------------------ the merchant's rules

def settings_row(session: Session, lock: bool = False) -> AfterSaleSettings:
    row = session.get(AfterSaleSettings, 1, with_for_update=lock)
    if row is None:
        session.execute(dialect_insert(session, AfterSaleSettings.__table__).values(
            id=1, data=rules.Settings().to_dict(), version=0, updated_by="")
            .on_conflict_do_nothing(index_elements=["id"]))
        row = session.get(AfterSaleSettings, 1, with_for_update=lock)
    return row


def settings(session: Session) -> rules.Settings:
    return rules.Settings.from_dict(settings_row(session).data)


def update_settings(runtime, staff_id: str, new: rules.Settings) -> AfterSaleSettings:
    v = Violations()
    v.check(1 <= new.no_reason_days <= 90, "no_reason_days", "range", "1 to 90 days")
    v.check(1 <= new.quality_days <= 365, "quality_days", "range", "1 to 365 days")
    for name in ("intimate_category_ids", "intimate_product_ids", "final_sale_product_ids",
                 "repair_product_ids", "free_return_tiers"):
        values = getattr(new, name)
        v.check(len(values) <= 1000, name, "max_items", "at most 1000 ids")
        v.check(all(0 < len(x) <= 64 for x in values), name, "id", "ids of 1 to 64 characters")
    v.raise_if_any("the after-sales settings have invalid fields")
    with runtime.transaction() as session:
        row = settings_row(session, lock=True)
        row.data, row.version = new.to_dict(), row.version + 1
        row.updated_by, row.updated_at = staff_id, utcnow()
        session.flush()
        session.expunge(row)
    return row


# ------------------------------------------------------------------ what she may apply for

def shipped(session: Session, order_id: str) -> bool:
    return session.get(OrderShipped, order_id) is not None


def on_order_status_changed(session: Session, changed) -> None:
    if changed.order_id and changed.to_status in ("partly_shipped", "shipped", "delivered",
                                                  "completed"):
        session.execute(dialect_insert(session, OrderShipped.__table__).values(
            order_id=changed.order_id, shipped_at=utcnow())
            .on_conflict_do_nothing(index_elements=["order_id"]))


def on_order_refunded(session: Session, refunded) -> None:
    """Units refunded per line (a full refund: every unit, line "*"), once per refund."""
    if not refunded.order_id or not refunded.refund_id:
        return
    rows = [("*", 0)] if refunded.full else \
        [(x.line_id, x.quantity) for x in refunded.lines if x.line_id]
    for line_id, units in rows:
        session.execute(dialect_insert(session, LineRefund.__table__).values(
            order_id=refunded.order_id, refund_id=refunded.refund_id[:64], line_id=line_id,
            quantity=units).on_conflict_do_nothing(
            index_elements=["order_id", "refund_id", "line_id"]))


def taken_units(session: Session, order_id: str, lines: list[OrderLine] | None = None
                ) -> dict[str, int]:
    """Units per line no longer available: in her requests not refused, withdrawn or expired,
    or refunded (order.refunded). The larger of the two counts: an after-sale's own refund is
    also announced by order, and the event does not say which request it was (a refund made
    outside after-sales while a request is open is thus under-counted, never twice)."""
    rows = session.execute(select(AfterSaleLine.line_id, func.sum(AfterSaleLine.quantity))
                           .join(AfterSale, AfterSale.id == AfterSaleLine.aftersale_id)
                           .where(AfterSaleLine.order_id == order_id,
                                  AfterSale.outcome.not_in(NOT_TAKEN))
                           .group_by(AfterSaleLine.line_id)).all()
    taken = {line_id: int(units) for line_id, units in rows}
    refunded = session.execute(select(LineRefund.line_id, func.sum(LineRefund.quantity))
                               .where(LineRefund.order_id == order_id)
                               .group_by(LineRefund.line_id)).all()
    for line_id, units in refunded:
        if line_id == "*":  # the whole order refunded: nothing left on any line
            for line in lines or []:
                taken[line.line_id] = max(taken.get(line.line_id, 0), line.quantity)
        else:
            taken[line_id] = max(taken.get(line_id, 0), int(units))
    return taken


def her_lines(session: Session, member_id: str, order_id: str) -> list[OrderLine]:
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)
                                 .order_by(OrderLine.id)))
    if not lines or lines[0].member_id != member_id:
        # Another shopper's order answers exactly like one that does not exist.
        raise NotFound(f"you have no paid order {excerpt(order_id)}")
    return lines


def facts(session: Session, line: OrderLine, taken: dict[str, int], is_shipped: bool):
    delivered = eligibility.delivered_at(session, line)
    return rules.LineFacts(product_id=line.product_id, category_ids=tuple(line.category_ids or ()),
                           quantity=line.quantity, taken=taken.get(line.line_id, 0),
                           shipped=is_shipped or delivered is not None, delivered_at=delivered)


def options(runtime, member_id: str, order_id: str, now: datetime | None = None) -> list[dict]:
    """Per line: bought, still available, and per kind whether she may apply and why not."""
    now = now or utcnow()
    with runtime.transaction() as session:
        lines = her_lines(session, member_id, order_id)
        s, taken, is_shipped = settings(session), taken_units(session, order_id, lines), \
            shipped(session, order_id)
        found = []
        for line in lines:
            f = facts(session, line, taken, is_shipped)
            kinds = []
            for kind in rules.KINDS:
                verdict = rules.judge(s, f, kind, None, now)
                reasons = [r.code for r in rules.REASONS if kind in r.kinds
                           and rules.judge(s, f, kind, r, now).allowed]
                allowed = verdict.allowed and bool(reasons)
                kinds.append(dict(kind=kind, allowed=allowed, reason_codes=reasons,
                                  why_not="" if allowed else verdict.rule or "window_passed",
                                  why_not_text="" if allowed else verdict.text or
                                  rules.WHY["window_passed"],
                                  seal_required=verdict.seal_required,
                                  window_ends_at=verdict.window_ends_at))
            found.append(dict(line=line, available=max(0, f.quantity - f.taken), kinds=kinds,
                              intimate=rules.is_intimate(s, f),
                              final_sale=line.product_id in s.final_sale_product_ids))
        return found


# ------------------------------------------------------------------ applying

@dataclass
class LineDraft:
    line_id: str
    quantity: int
    exchange_sku_id: str = ""


@dataclass
class Draft:
    order_id: str
    kind: str
    reason_code: str
    text: str = ""
    lines: list[LineDraft] = field(default_factory=list)
    seal_intact: bool = False
    photos: list[bytes] = field(default_factory=list)


def check_draft(d: Draft) -> Violations:
    """Every problem of the application itself at once, before anything is looked up (pure)."""
    v = Violations()
    v.check(bool(d.order_id), "order_id", "required", "the order the lines belong to")
    v.check(d.kind in rules.KINDS, "kind", "known", "refund_only, return_refund, exchange or repair")
    reason = rules.REASON_BY_CODE.get(d.reason_code)
    if v.check(reason is not None, "reason_code", "known", "one of ListAfterSaleReasons' codes") \
            and d.kind in rules.KINDS:
        v.check(d.kind in reason.kinds, "reason_code", "kind",
                f"{d.reason_code} is a reason for {', '.join(reason.kinds)}, not {d.kind}")
    v.check(len(d.text) <= MAX_TEXT, "text", "max_length",
            f"at most {MAX_TEXT} characters ({len(d.text)} sent)")
    v.check(0 < len(d.lines) <= MAX_LINES, "lines", "required" if not d.lines else "max_items",
            f"1 to {MAX_LINES} lines of the order")
    seen: set[str] = set()
    for i, line in enumerate(d.lines[:MAX_LINES]):
        v.check(bool(line.line_id), f"lines[{i}].line_id", "required", "the order line")
        v.check(line.line_id not in seen, f"lines[{i}].line_id", "unique", "each line once")
        seen.add(line.line_id)
        v.check(line.quantity >= 1, f"lines[{i}].quantity", "range", "at least 1 unit")
        if d.kind == "exchange":
            v.check(bool(line.exchange_sku_id), f"lines[{i}].exchange_sku_id", "required",
                    "the size or colour she wants instead")
        else:
            v.check(not line.exchange_sku_id, f"lines[{i}].exchange_sku_id", "exchange_only",
                    "only an exchange names another SKU")
    v.check(len(d.photos) <= MAX_PHOTOS, "photos", "max_items",
            f"at most {MAX_PHOTOS} photos ({len(d.photos)} sent)")
    return v


def apply(runtime, storage, member_id: str, d: Draft, sku_products=None) -> AfterSale:
    """`sku_products(sku_ids) -> {sku_id: product_id}` (catalog's GetSkus in the api process):
    an exchange SKU must be another SKU of the line's product."""
    v = check_draft(d)
    checked = photos.check(d.photos[:MAX_PHOTOS], "photos", v)
    v.raise_if_any("the application has invalid fields")
    reason = rules.REASON_BY_CODE[d.reason_code]
    now = utcnow()
    wanted = [x.exchange_sku_id for x in d.lines if x.exchange_sku_id]
    products = sku_products(wanted) if wanted and sku_products is not None else {}
    with photos.Writer(storage) as writer, runtime.transaction() as session:
        lines = {x.line_id: x for x in her_lines(session, member_id, d.order_id)}
        if erasure.is_erased(session, member_id):
            raise FailedPrecondition("this account was erased")
        take_turns(session, f"support.aftersale:{d.order_id}")  # two applications: one by one
        s, is_shipped = settings(session), shipped(session, d.order_id)
        taken = taken_units(session, d.order_id, list(lines.values()))
        bad = Violations()
        chosen = []
        for i, draft in enumerate(d.lines):
            line = lines.get(draft.line_id)
            if not bad.check(line is not None, f"lines[{i}].line_id", "known",
                             f"order {excerpt(d.order_id)} has no line {excerpt(draft.line_id)}"):
                continue
            f = facts(session, line, taken, is_shipped)
            left = f.quantity - f.taken
            bad.check(draft.quantity <= left, f"lines[{i}].quantity", "available",
                      f"{left} of {f.quantity} units left (the others are refunded or in "
                      f"another request)")
            if draft.exchange_sku_id and sku_products is not None:
                bad.check(products.get(draft.exchange_sku_id) == line.product_id and
                          draft.exchange_sku_id != line.sku_id,
                          f"lines[{i}].exchange_sku_id", "same_product",
                          "another size or colour of the same product")
            verdict = rules.judge(s, f, d.kind, reason, now, seal_intact=d.seal_intact)
            if not verdict.allowed:
                bad.check(False, f"lines[{i}]", verdict.rule, verdict.text)
            chosen.append((line, draft, f))
        if bad.items:
            raise FailedPrecondition("these lines cannot be applied for", bad.items)
        first = chosen[0][0]
        request = AfterSale(
            member_id=member_id, order_id=d.order_id, order_no=first.order_no, kind=d.kind,
            reason_code=d.reason_code, text=d.text.strip(), seal_intact=d.seal_intact,
            hygiene=any(rules.hygiene_check_needed(s, f, reason) for _, _, f in chosen),
            state="applied", outcome="", priority=any(x.exclusive_service for x, _, _ in chosen),
            free_return_shipping=rules.free_return_shipping(s, reason, first.member_tier),
            refund_fen=0, refunded_fen=0, note="", created_at=now, updated_at=now,
            deadline_at=now + timedelta(seconds=answer_seconds()),
            history=[_entry("applied", "member", "", now)])
        session.add(request)
        session.flush()
        for line, draft, _ in chosen:
            share = rules.share_fen(line.paid_fen, line.quantity, draft.quantity)
            session.add(AfterSaleLine(
                aftersale_id=request.id, order_id=line.order_id, line_id=line.line_id,
                product_id=line.product_id, sku_id=line.sku_id, title=line.title,
                sku_label=line.sku_label, size=line.size, quantity=draft.quantity,
                paid_fen=share, refund_fen=0 if d.kind in ("exchange", "repair") else share,
                exchange_sku_id=draft.exchange_sku_id))
        _add_photos(session, writer, request, checked)
        session.flush()
        its = lines_of(session, request.id)
        runtime.emit(session, "aftersale.applied", events.AfterSaleApplied(
            request_id=str(request.id), order_id=request.order_id, member_id=member_id,
            kind=request.kind, reason_code=request.reason_code, lines=_event_lines(its),
            applied_at=rfc3339(now), priority=request.priority))
        _notice(runtime, session, request, "aftersale_applied")
        if d.kind == "refund_only" and not is_shipped and s.auto_approve_refund_before_shipping:
            _move(runtime, session, request, "approve", "auto", "未发货,自动同意仅退款")
        session.flush()
        session.expunge(request)
    return request


def _add_photos(session, writer, request: AfterSale, checked) -> None:
    start = session.scalar(select(func.count()).select_from(AfterSalePhoto).where(
        AfterSalePhoto.aftersale_id == request.id)) or 0
    for position, image in enumerate(checked, start=start + 1):
        session.add(AfterSalePhoto(aftersale_id=request.id, position=position,
                                   **writer.files(f"aftersales/{request.id}", image)))


# ------------------------------------------------------------------ moving a request

def _entry(state: str, by: str, note: str, at: datetime) -> dict:
    return {"state": state, "by": by, "note": note, "at": rfc3339(at)}


def lines_of(session: Session, request_id: int) -> list[AfterSaleLine]:
    return list(session.scalars(select(AfterSaleLine).where(
        AfterSaleLine.aftersale_id == request_id).order_by(AfterSaleLine.id)))


def _event_lines(lines: list[AfterSaleLine]) -> list[events.AfterSaleLine]:
    return [events.AfterSaleLine(line_id=x.line_id, sku_id=x.sku_id, product_id=x.product_id,
                                 quantity=x.quantity, refund_fen=x.refund_fen,
                                 exchange_sku_id=x.exchange_sku_id, size=x.size) for x in lines]


NOTICE_OF_STATE = {"awaiting_photos": "aftersale_photos_wanted",
                   "inspection_failed": "aftersale_inspection_failed",
                   "refunding": "aftersale_refunding", "closed": "aftersale_closed"}


def _move(runtime, session: Session, request: AfterSale, action: str, by: str,
          note: str = "", *, quiet_events: bool = False) -> rules.Step | None:
    """One transition: state, history, deadline, events and the shopper's notice."""
    step = rules.transition(request.state, request.kind, action)
    if step is None:
        return None
    now = utcnow()
    if step.approved_now:
        request.history = [*request.history, _entry("approved", by, note, now)]
    request.state, request.updated_at = step.state, now
    if step.outcome:
        request.outcome = step.outcome
    if note and action in ("refuse", "ask_photos", "partial_refund"):
        request.note = note[:MAX_TEXT]
    request.deadline_at = now + timedelta(seconds=return_seconds()) \
        if step.state == "awaiting_return" else \
        now + timedelta(seconds=answer_seconds()) if step.state == "applied" else None
    request.history = [*request.history, _entry(step.state if not step.outcome else
                                                f"closed:{step.outcome}", by, note, now)]
    its = lines_of(session, request.id)
    base = dict(request_id=str(request.id), order_id=request.order_id,
                member_id=request.member_id)
    if step.approved_now:
        runtime.emit(session, "aftersale.approved", events.AfterSaleApproved(
            **base, kind=request.kind, lines=_event_lines(its),
            return_expected=request.kind in rules.RETURN_KINDS,
            free_return_shipping=request.free_return_shipping, approved_by=by,
            approved_at=rfc3339(now),
            return_by=rfc3339(request.deadline_at) if request.deadline_at else ""))
        _notice(runtime, session, request, "aftersale_approved")
    if step.refund_now:
        request.refund_fen = sum(x.refund_fen for x in its)
        runtime.emit(session, "aftersale.refund_requested", events.AfterSaleRefundRequested(
            **base, refund_request_id=f"{PREFIX}{request.id}", amount_fen=request.refund_fen,
            lines=_event_lines(its), reason=note or rules.REASON_BY_CODE[request.reason_code].label,
            requested_by=by))
    if step.state == rules.CLOSED:
        runtime.emit(session, "aftersale.closed", events.AfterSaleClosed(
            **base, kind=request.kind, outcome=request.outcome, reason=note,
            lines=_event_lines(its), refunded_fen=request.refunded_fen,
            closed_at=rfc3339(now), reason_code=request.reason_code))
    kind = "aftersale_refused" if step.outcome == "refused" else NOTICE_OF_STATE.get(step.state)
    if kind:
        _notice(runtime, session, request, kind)
    return step


def _notice(runtime, session: Session, request: AfterSale, kind: str) -> None:
    """The shopper's notice for this step (one per request and kind), announced for WeChat."""
    title, body = notice_text(request, kind)
    # Keyed by the request (one notice per request and step), outside the order's own status
    # history: a request's news is never "a state the order has already left".
    notice = inbox.notify(session, member_id=request.member_id, kind=kind, title=title, body=body,
                          redemption_id=f"{PREFIX}{request.id}")
    if notice is None:
        return
    runtime.emit(session, "notification.created", events.NotificationCreated(
        notification_id=notice.id, member_id=notice.member_id, kind=notice.kind,
        title=notice.title, body=notice.body, order_id=request.order_id,
        order_no=request.order_no, created_at=rfc3339(notice.created_at),
        consent_purpose=marketing.consent_purpose(notice.kind)))


KIND_LABEL = {"refund_only": "仅退款", "return_refund": "退货退款", "exchange": "换货",
              "repair": "维修"}
OUTCOME_LABEL = {"refunded": "已退款", "exchanged": "换货已发出", "repaired": "维修完成",
                 "refused": "未通过", "withdrawn": "已撤销", "expired": "已超时关闭"}


def notice_text(request: AfterSale, kind: str) -> tuple[str, str]:
    order = request.order_no or request.order_id
    what = f"订单{order}的{KIND_LABEL[request.kind]}申请"
    yuan = f"{request.refund_fen // 100}.{request.refund_fen % 100:02d}"
    texts = {
        "aftersale_applied": ("售后申请已提交", f"{what}已提交,我们会尽快处理。"),
        "aftersale_approved": ("售后申请已同意", f"{what}已同意。" + (
            "请在7天内寄回商品。" if request.kind in rules.RETURN_KINDS else "")),
        "aftersale_refused": ("售后申请未通过", f"{what}未通过:{request.note or '请联系客服'}"),
        "aftersale_photos_wanted": ("请补充售后凭证", f"{what}需要补充照片:{request.note}"),
        "aftersale_inspection_failed": ("退货验收未通过", f"{what}的退货验收未通过,客服会与您联系。"),
        "aftersale_exchange_unavailable": ("换货商品缺货", f"{what}所换的商品暂时缺货,客服会与您联系。"),
        "aftersale_refunding": ("退款处理中", f"{what}将退款¥{yuan},原路退回。"),
        "aftersale_closed": ("售后已完成" if request.outcome in ("refunded", "exchanged", "repaired")
                             else "售后已关闭",
                             f"{what}{OUTCOME_LABEL.get(request.outcome, '已关闭')}。"),
    }
    return texts[kind]


def _mine(session: Session, member_id: str, request_id: str) -> AfterSale:
    return row_by_id(session, AfterSale, request_id, "after-sales request", for_update=True,
                     member_id=member_id)


def _any(session: Session, request_id: str) -> AfterSale:
    return row_by_id(session, AfterSale, request_id, "after-sales request", for_update=True)


def _act(runtime, session, request: AfterSale, action: str, by: str, note: str = "") -> AfterSale:
    try:
        _move(runtime, session, request, action, by, note)
    except rules.Illegal as err:
        raise FailedPrecondition(str(err), [FieldViolation("request_id", "state", str(err))]) \
            from None
    session.flush()
    session.expunge(request)
    return request


def withdraw(runtime, member_id: str, request_id: str) -> AfterSale:
    with runtime.transaction() as session:
        return _act(runtime, session, _mine(session, member_id, request_id), "withdraw", "member")


def add_photos(runtime, storage, member_id: str, request_id: str, note: str,
               images: list[bytes]) -> AfterSale:
    v = Violations()
    v.check(bool(request_id), "request_id", "required", "the request")
    v.check(len(note) <= MAX_TEXT, "note", "max_length", f"at most {MAX_TEXT} characters")
    v.check(0 < len(images), "photos", "required", "the photos customer service asked for")
    checked = photos.check(images[:MAX_PHOTOS], "photos", v)
    with photos.Writer(storage) as writer, runtime.transaction() as session:
        request = _mine(session, member_id, request_id)
        count = session.scalar(select(func.count()).select_from(AfterSalePhoto).where(
            AfterSalePhoto.aftersale_id == request.id)) or 0
        v.check(count + len(images) <= MAX_PHOTOS, "photos", "max_items",
                f"at most {MAX_PHOTOS} photos per request ({count} already)")
        v.raise_if_any("the photos are invalid")
        if request.state != "awaiting_photos":
            raise FailedPrecondition("no photos were asked for", [FieldViolation(
                "request_id", "state", f"the request is {request.state}")])
        _add_photos(session, writer, request, checked)
        if note.strip():
            request.text = (request.text + "\n" + note.strip())[:4000]
        return _act(runtime, session, request, "photos_added", "member", note.strip())


# ------------------------------------------------------------------ customer service

def _staff_note(note: str, required: bool, name: str = "note") -> None:
    v = Violations()
    if required:
        v.check(bool(note.strip()), name, "required", f"the {name} the shopper reads")
    v.check(len(note) <= MAX_TEXT, name, "max_length", f"at most {MAX_TEXT} characters")
    v.raise_if_any()


def decide(runtime, staff_id: str, request_id: str, action: str, note: str) -> AfterSale:
    """approve, refuse (note: the reason) or ask_photos (note: what to show)."""
    _staff_note(note, required=action != "approve")
    with runtime.transaction() as session:
        return _act(runtime, session, _any(session, request_id), action, staff_id, note.strip())


def refund_partially(runtime, staff_id: str, request_id: str, amounts: dict[str, int],
                     given: list[str], reason: str) -> AfterSale:
    """Refund per line at most what she paid for the request's units (an inspection that failed,
    or an exchange that cannot be made)."""
    _staff_note(reason, required=True, name="reason")
    with runtime.transaction() as session:
        request = _any(session, request_id)
        its = {x.line_id: x for x in lines_of(session, request.id)}
        v = Violations()
        v.check(bool(given), "lines", "required", "the lines to refund, with amounts")
        for i, line_id in enumerate(given):
            line = its.get(line_id)
            if v.check(line is not None, f"lines[{i}].line_id", "known",
                       "a line of this request"):
                fen = amounts[line_id]
                v.check(0 <= fen <= line.paid_fen, f"lines[{i}].refund_fen", "range",
                        f"0 to {line.paid_fen} fen (what she paid for these units)")
        v.check(sum(amounts.values()) > 0, "lines", "positive", "refund something")
        v.raise_if_any("the partial refund has invalid fields")
        for line_id, line in its.items():
            line.refund_fen = amounts.get(line_id, 0)
        session.flush()
        return _act(runtime, session, request, "partial_refund", staff_id, reason.strip())


# ------------------------------------------------------------------ events

def _by_event(session: Session, request_id: str) -> AfterSale | None:
    row_id = try_int_id(request_id)
    return session.get(AfterSale, row_id, with_for_update=True) if row_id is not None else None


def on_return_booked(runtime, session: Session, booked) -> None:
    request = _by_event(session, booked.request_id)
    if request is not None:
        _move(runtime, session, request, "return_booked", "logistics",
              f"{booked.carrier} {booked.waybill_no}".strip())


def on_return_inspected(runtime, session: Session, inspected) -> None:
    request = _by_event(session, inspected.request_id)
    if request is None:
        return
    ok = rules.inspection_accepted(inspected.accepted, inspected.seal_intact, request.hygiene)
    note = inspected.note or ("" if ok or inspected.accepted else "验收未通过")
    if inspected.accepted and not ok:
        note = "卫生封条已拆,不支持七天无理由退货"
    _move(runtime, session, request, "inspected_ok" if ok else "inspected_failed",
          inspected.inspected_by or "warehouse", note)


def on_exchange_shipped(runtime, session: Session, shipped_) -> None:
    request = _by_event(session, shipped_.request_id)
    if request is not None:
        _move(runtime, session, request, "exchange_shipped", "logistics",
              f"{shipped_.carrier} {shipped_.waybill_no}".strip())


def on_exchange_unavailable(runtime, session: Session, unavailable) -> None:
    request = _by_event(session, unavailable.request_id)
    if request is None or request.state == rules.CLOSED or request.exchange_unavailable:
        return
    request.exchange_unavailable = True
    request.history = [*request.history, _entry(request.state, "logistics", "换货商品缺货",
                                                utcnow())]
    _notice(runtime, session, request, "aftersale_exchange_unavailable")


def on_payment_refunded(runtime, session: Session, refunded) -> None:
    """`aftersale:<id>` closes the request refunded, once. A pre-sale's refund may come in two
    parts (`aftersale:<id>` from the balance, `aftersale:<id>:deposit`), in either order: each
    adds to what was refunded, never past what was asked."""
    if not refunded.refund_request_id.startswith(PREFIX):
        return
    request_id, _, _part = refunded.refund_request_id[len(PREFIX):].partition(":")
    request = _by_event(session, request_id)
    if request is None:
        return
    closed_refunded = request.state == rules.CLOSED and request.outcome == "refunded"
    if request.state != "refunding" and not closed_refunded:
        return  # not waiting for money: nothing to count
    request.refunded_fen = min(request.refund_fen, request.refunded_fen + refunded.amount_fen)
    if request.state == "refunding":
        _move(runtime, session, request, "refunded", "payment")


# ------------------------------------------------------------------ timeouts (worker)

BATCH = 100


def run_timeouts(runtime, now: datetime | None = None) -> dict[str, int]:
    """Applied and unanswered past its deadline: approved (auto); approved and not sent back by
    its return date: closed expired. Rows claimed FOR UPDATE SKIP LOCKED (several replicas)."""
    now = now or utcnow()
    done = {"approved": 0, "expired": 0}
    for state, action, counter in (("applied", "approve", "approved"),
                                   ("awaiting_return", "expire", "expired")):
        with runtime.transaction() as session:
            due = list(session.scalars(select(AfterSale).where(
                AfterSale.state == state, AfterSale.deadline_at <= now)
                .order_by(AfterSale.deadline_at).limit(BATCH).with_for_update(skip_locked=True)))
            for request in due:
                note = "商家48小时未处理,自动同意" if action == "approve" else "超时未寄回,售后关闭"
                if _move(runtime, session, request, action, "auto", note) is not None:
                    done[counter] += 1
    return done


# ------------------------------------------------------------------ reading

def photos_of(session: Session, ids: list[int]) -> dict[int, list[AfterSalePhoto]]:
    found: dict[int, list[AfterSalePhoto]] = {i: [] for i in ids}
    if ids:
        for p in session.scalars(select(AfterSalePhoto).where(
                AfterSalePhoto.aftersale_id.in_(ids)).order_by(AfterSalePhoto.aftersale_id,
                                                               AfterSalePhoto.position)):
            found[p.aftersale_id].append(p)
    return found


def lines_by_request(session: Session, ids: list[int]) -> dict[int, list[AfterSaleLine]]:
    found: dict[int, list[AfterSaleLine]] = {i: [] for i in ids}
    if ids:
        for x in session.scalars(select(AfterSaleLine).where(
                AfterSaleLine.aftersale_id.in_(ids)).order_by(AfterSaleLine.id)):
            found[x.aftersale_id].append(x)
    return found


def mine_page(session: Session, member_id: str, limit: int, after_id: int | None):
    query = select(AfterSale).where(AfterSale.member_id == member_id).order_by(
        AfterSale.id.desc()).limit(limit + 1)
    if after_id is not None:
        query = query.where(AfterSale.id < after_id)
    return list(session.scalars(query))


def desk_page(session: Session, limit: int, after: list | None, *, state: str = "",
              reason_code: str = "", product_id: str = "", older_than_hours: int = 0):
    """Priority (exclusive service) first, then the oldest; `limit + 1` rows."""
    query = select(AfterSale).order_by(AfterSale.priority.desc(), AfterSale.id).limit(limit + 1)
    query = query.where(AfterSale.state == state) if state else \
        query.where(AfterSale.state != rules.CLOSED)
    if reason_code:
        query = query.where(AfterSale.reason_code == reason_code)
    if product_id:
        query = query.where(exists().where(AfterSaleLine.aftersale_id == AfterSale.id,
                                           AfterSaleLine.product_id == product_id))
    if older_than_hours:
        query = query.where(AfterSale.created_at <= utcnow() - timedelta(hours=older_than_hours))
    if after:
        priority, last_id = bool(after[0]), int(after[1])
        query = query.where(or_(and_(AfterSale.priority == priority, AfterSale.id > last_id),
                                AfterSale.priority.is_(False) if priority else false()))
    return list(session.scalars(query))


# ------------------------------------------------------------------ erasure

def erase(session: Session, member_id: str) -> list[str]:
    """Her words and pictures go (text, notes, photos); the requests stay for the books, with
    their lines, amounts and states. Returns the photo files' keys to delete after commit."""
    mine = list(session.scalars(select(AfterSale).where(AfterSale.member_id == member_id)))
    ids = [r.id for r in mine]
    keys = [k for p in session.scalars(select(AfterSalePhoto).where(
        AfterSalePhoto.aftersale_id.in_(ids))) for k in photos.keys_of(p)] if ids else []
    if ids:
        session.query(AfterSalePhoto).filter(AfterSalePhoto.aftersale_id.in_(ids)).delete(
            synchronize_session=False)
    for r in mine:
        r.text, r.note = "", ""
        r.history = [{**h, "note": ""} for h in r.history or []]
    return keys
