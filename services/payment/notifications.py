"""HandleNotification: a provider's notification exactly as the gateway received it. It is
verified as the provider documents (the adapter), applied (settlement), logged whatever became of
it, and answered in the provider's expected form. Nothing that fails verification changes an
intent; a duplicate changes nothing twice."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from servicekit.errors import FieldViolation, NotFound
from servicekit.ids import excerpt
from servicekit.runtime import Runtime

from . import refunds, settlement
from .models import PROVIDERS, NotificationLog
from .providers import Answer, NotificationRefused
from .providers.registry import provider

log = logging.getLogger(__name__)
MAX_LOGGED_BODY = 64 * 1024
ACCEPTED = ("applied", "duplicate", "ignored")  # the provider may stop resending


@dataclass(frozen=True)
class Handled:
    answer: Answer
    outcome: str
    reason: str


def handle(runtime: Runtime, provider_name: str, headers: dict[str, str], body: bytes) -> Handled:
    if provider_name not in PROVIDERS:  # no provider to answer in the format of: a plain refusal
        raise NotFound(f"no payment provider {excerpt(provider_name)}", [FieldViolation(
            "provider", "known", f"providers are {', '.join(sorted(PROVIDERS))}")])
    adapter = provider(provider_name)
    entry = NotificationLog(provider=provider_name, received_at=datetime.now(timezone.utc),
                            headers=json.dumps(dict(headers), ensure_ascii=False),
                            body=body[:MAX_LOGGED_BODY].decode("utf-8", errors="replace"), verified=False)
    try:
        verified = adapter.verify_notification(headers, body)
    except NotificationRefused as refused:
        entry.kind, entry.verified = refused.kind[:40], refused.signed
        return _logged(runtime, entry, "refused", refused.reason, adapter.answer(False, 401))
    entry.verified, entry.kind = True, verified.kind[:40]
    entry.out_trade_no = (verified.trade.out_trade_no if verified.trade
                          else verified.refund.out_trade_no if verified.refund else "")[:64]
    try:
        with runtime.transaction() as session:
            if verified.refund is not None:
                settled = settlement.apply_refund(session, runtime, verified.refund)
            elif verified.trade is not None:
                settled = settlement.apply_trade(session, runtime, provider_name, verified.trade)
            else:
                settled = settlement.Settled("ignored", f"{verified.kind}: nothing to do")
            entry.payment_intent_id = settled.intent_id
            handled = _log(session, entry, settled.outcome, settled.reason,
                           adapter.answer(settled.outcome in ACCEPTED, 400))  # with the effect it logs
    except Exception as err:  # the provider resends; the log says what went wrong
        log.exception("notification from %s could not be applied", provider_name)
        return _logged(runtime, entry, "error", f"{type(err).__name__}: {err}", adapter.answer(False, 500))
    if settled.refund_to_submit:
        try:
            refunds.submit(runtime, settled.refund_to_submit)
        except Exception:  # already answered and logged; the reconciliation timer submits it
            log.exception("refund %s not submitted now", settled.refund_to_submit)
    return handled


def _log(session, entry: NotificationLog, outcome: str, reason: str, answer: Answer) -> Handled:
    entry.outcome, entry.reason = outcome, reason
    session.add(entry)
    if outcome in ("refused", "error"):
        log.warning("%s notification %s: %s", entry.provider, outcome, reason)
    return Handled(answer, outcome, reason)


def _logged(runtime: Runtime, entry: NotificationLog, outcome: str, reason: str, answer: Answer) -> Handled:
    """Logs in a transaction of its own: nothing else was (or may be) written."""
    entry = NotificationLog(**{c.key: getattr(entry, c.key) for c in NotificationLog.__table__.columns
                               if c.key != "id"})  # a fresh row: a rolled-back one cannot be added again
    with runtime.transaction() as session:
        return _log(session, entry, outcome, reason, answer)
