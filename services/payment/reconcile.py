"""Reconciliation: asks the provider (over HTTP) about intents still pending after
MALL_PAYMENT_RECONCILE_AFTER_MINUTES, so a lost notification never leaves a paid order unpaid,
and submits refunds that could not reach their provider yet. Run by the worker's timer; safe with
several replicas (rows are claimed with SKIP LOCKED, and settlement is idempotent)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select

from servicekit.config import env_int
from servicekit.runtime import Runtime

from . import refunds, settlement
from .models import PaymentIntent, Refund
from .providers import ProviderError
from .providers.registry import METHOD_PROVIDER, for_method

log = logging.getLogger(__name__)
BATCH = 50
REFUND_RETRY_AFTER = timedelta(seconds=30)


def reconcile_after() -> timedelta:
    return timedelta(minutes=env_int("RECONCILE_AFTER_MINUTES", 5, "payment"))


@dataclass
class Report:
    checked: int = 0
    settled: list[str] = field(default_factory=list)       # intent ids the provider's answer changed
    refunds_submitted: int = 0
    refunds_settled: int = 0
    errors: int = 0


def _claim_stale_pending(runtime: Runtime, older_than: timedelta, now: datetime) -> list[tuple[str, str, str]]:
    """(id, method, out_trade_no) of pending intents not checked for `older_than`, each stamped
    as checked now so other replicas and the next run leave them alone for a while."""
    cutoff = now - older_than
    with runtime.transaction() as session:
        rows = list(session.scalars(
            select(PaymentIntent)
            .where(PaymentIntent.status == "pending", PaymentIntent.out_trade_no.is_not(None),
                   PaymentIntent.updated_at < cutoff,
                   or_(PaymentIntent.last_checked_at.is_(None), PaymentIntent.last_checked_at < cutoff))
            .order_by(PaymentIntent.updated_at).limit(BATCH).with_for_update(skip_locked=True)))
        for intent in rows:
            intent.last_checked_at = now
        return [(i.id, i.method, i.out_trade_no) for i in rows]


def run(runtime: Runtime, *, older_than: timedelta | None = None) -> Report:
    now = datetime.now(timezone.utc)
    report = Report()
    older_than = reconcile_after() if older_than is None else older_than
    for intent_id, method, out_trade_no in _claim_stale_pending(runtime, older_than, now):
        report.checked += 1
        if check_one(runtime, method, out_trade_no, report):
            report.settled.append(intent_id)
    report.refunds_submitted = resubmit_refunds(runtime, now - REFUND_RETRY_AFTER)
    report.refunds_settled = check_processing_refunds(runtime, now - older_than)
    return report


def check_one(runtime: Runtime, method: str, out_trade_no: str, report: Report | None = None) -> bool:
    """Asks the provider about one trade and applies its answer; True when it changed something."""
    try:
        trade = for_method(method).query(out_trade_no)
    except ProviderError as err:
        log.warning("reconciliation: %s %s not answered: %s", method, out_trade_no, err)
        if report:
            report.errors += 1
        return False
    with runtime.transaction() as session:
        settled = settlement.apply_trade(session, runtime, METHOD_PROVIDER[method], trade)
    if settled.outcome == "refused":
        log.error("reconciliation: %s %s: %s", method, out_trade_no, settled.reason)
    if settled.refund_to_submit:
        refunds.submit(runtime, settled.refund_to_submit)
    return settled.outcome == "applied"


def check_processing_refunds(runtime: Runtime, processing_before: datetime) -> int:
    """Refunds the provider accepted but whose outcome never arrived (a lost refund notification):
    asked about once per interval, their answer applied like the notification would be."""
    with runtime.transaction() as session:
        rows = list(session.execute(
            select(Refund.id, Refund.provider_refund_id, PaymentIntent.method, PaymentIntent.out_trade_no)
            .join(PaymentIntent, PaymentIntent.id == Refund.payment_intent_id)
            .where(Refund.status == "processing", Refund.updated_at < processing_before)
            .limit(BATCH)))
        for refund in session.scalars(select(Refund).where(Refund.id.in_([r.id for r in rows]))):
            refund.updated_at = datetime.now(timezone.utc)  # asked now: next time after the interval
    settled = 0
    for row in rows:
        try:
            result = for_method(row.method).query_refund(
                out_trade_no=row.out_trade_no, out_refund_no=row.id, provider_refund_id=row.provider_refund_id or "")
        except ProviderError as err:
            log.warning("reconciliation: refund %s not answered: %s", row.id, err)
            continue
        with runtime.transaction() as session:
            if settlement.apply_refund(session, runtime, result).outcome == "applied" and result.state != "processing":
                settled += 1
    return settled


def resubmit_refunds(runtime: Runtime, requested_before: datetime) -> int:
    with runtime.transaction() as session:
        ids = list(session.scalars(select(Refund.id).where(Refund.status == "requested",
                                                           Refund.updated_at < requested_before)
                                   .limit(BATCH)))
    submitted = 0
    for refund_id in ids:
        if refunds.submit(runtime, refund_id).status != "requested":
            submitted += 1
    return submitted
