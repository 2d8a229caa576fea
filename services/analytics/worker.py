"""Analytics' worker: every event it hears becomes a fact (and a count), exactly once."""
from __future__ import annotations

from mall.events.v1 import catalog_events_pb2 as catalog
from mall.events.v1 import logistics_events_pb2 as logistics
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order
from mall.events.v1 import support_events_pb2 as support

from servicekit.erasure import erased_at
from servicekit.worker import EventWorker, on_event

from . import erasure, returns, tracking_consent
from .facts import record_fact, record_imported_orders


class Worker(EventWorker):
    name = "analytics"

    # The message types validate what arrives (a malformed body is parked, not stored); the
    # fact keeps the data exactly as published.
    @on_event("catalog", "product.published", catalog.ProductPublished)
    def product_published(self, session, event):
        record_fact(session, event)

    @on_event("catalog", "product.updated", catalog.ProductUpdated)
    def product_updated(self, session, event):
        record_fact(session, event)

    @on_event("catalog", "product.unpublished", catalog.ProductUnpublished)
    def product_unpublished(self, session, event):
        record_fact(session, event)

    @on_event("order", "order.paid", order.OrderPaid)
    def order_paid(self, session, event):
        record_fact(session, event)

    @on_event("order", "order.deposit_paid", order.OrderDepositPaid)
    def order_deposit_paid(self, session, event):
        # a pre-sale's first phase: its deposit (order.paid comes once the balance is paid too)
        record_fact(session, event)

    @on_event("order", "order.imported", order.OrderImported)
    def order_imported(self, session, event):
        # a partner's order is a sale too; its channel (import:<partner>) and batch stay in the fact
        record_fact(session, event)

    @on_event("order", "order.imported_batch", order.OrdersImported)
    def orders_imported(self, session, event):
        # one order.imported fact per order of the batch, so reports count imported orders alike
        record_imported_orders(session, event)

    # After-sale requests: facts, and their lines counted by reason, product and size (returns.py)
    @on_event("support", "aftersale.applied", support.AfterSaleApplied)
    def aftersale_applied(self, session, event):
        record_fact(session, event)
        returns.record(session, event.data, event.occurred_at)

    @on_event("support", "aftersale.approved", support.AfterSaleApproved)
    def aftersale_approved(self, session, event):
        record_fact(session, event)

    @on_event("support", "aftersale.refund_requested", support.AfterSaleRefundRequested)
    def aftersale_refund_requested(self, session, event):
        record_fact(session, event)

    @on_event("support", "aftersale.closed", support.AfterSaleClosed)
    def aftersale_closed(self, session, event):
        record_fact(session, event)
        returns.record(session, event.data, event.occurred_at)

    @on_event("logistics", "inventory.availability_changed", logistics.AvailabilityChanged)
    def availability_changed(self, session, event):
        record_fact(session, event)

    @on_event("member", "member.consent_changed", member_events.ConsentChanged)
    def consent_changed(self, session, event):
        """Not a fact: whether facts may keep this member's id (tracking_consent.py)."""
        tracking_consent.consent_changed(session, event.data)

    # Not a fact itself: it scrubs hers (a member.deleted fact would only name her again).
    @on_event("member", "member.deleted", member_events.MemberDeleted)
    def member_deleted(self, session, event):
        erasure.erase_member(session, event.data.member_id, erased_at(event))
