"""Payment's reactions: a cancelled order closes its open payment intents (and their provider
orders), and a paid one is refunded in full (cancellation.py); an after-sale refund request is
refunded once (aftersale.py); a timer reconciles pending intents
with their providers and resubmits refunds."""
from __future__ import annotations

import logging

from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import support_events_pb2 as support_events

from servicekit import idempotency
from servicekit.config import env_float
from servicekit.worker import EventWorker, on_event, timer

from . import aftersale, cancellation, intents, reconcile, refunds
from .providers import ProviderError
from .providers.registry import for_method

log = logging.getLogger(__name__)


class Worker(EventWorker):
    name = "payment"

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        for intent in intents.cancel_open_for_order(session, self.runtime, event.data.order_id):
            if intent.out_trade_no and intent.client_payload:
                _close_at_provider(intent.method, intent.out_trade_no)
        for refund in cancellation.refunds_of_cancelled_order(session, event.data):
            if refund.status == "requested":
                refund_id = refund.id  # sent once the refund row is committed
                self.runtime.after_commit(session,
                                          lambda r=refund_id: refunds.submit(self.runtime, r))

    @on_event("support", "aftersale.refund_requested", support_events.AfterSaleRefundRequested)
    def aftersale_refund_requested(self, session, event):
        for refund in aftersale.refund_requested(session, event.data):
            if refund.status == "requested":
                refund_id = refund.id  # sent once the refund row is committed
                self.runtime.after_commit(session,
                                          lambda r=refund_id: refunds.submit(self.runtime, r))

    @timer(env_float("RECONCILE_INTERVAL_SECONDS", 60.0, "payment"))
    def reconcile_with_providers(self):
        report = reconcile.run(self.runtime)
        if report.checked or report.refunds_submitted:
            log.info("reconciliation: %s checked, %s settled, %s refunds submitted, %s errors",
                     report.checked, len(report.settled), report.refunds_submitted, report.errors)

    @timer(3600)
    def forget_old_idempotency_keys(self):
        with self.runtime.transaction() as session:
            idempotency.purge(session)


def _close_at_provider(method: str, out_trade_no: str) -> None:
    """Best effort: if the shopper pays anyway, the late payment is refunded (settlement)."""
    try:
        for_method(method).close(out_trade_no)
    except ProviderError as err:
        log.warning("could not close %s at the provider: %s", out_trade_no, err)
