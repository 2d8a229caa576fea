"""Order's reactions: the product read model from catalog; payment and shipment events moving
orders; support's after-sale requests shown on the order; timers that cancel unpaid orders,
complete delivered ones and forget idempotency keys."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from mall.events.v1 import catalog_events_pb2 as catalog
from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import payment_events_pb2 as payments
from mall.events.v1 import support_events_pb2 as support

from servicekit import idempotency
from servicekit.config import env_float
from servicekit.erasure import erased_at
from servicekit.worker import EventWorker, on_event, timer

from . import aftersales, availability, early_access, erasure, orders, placement, presale, products

# How often balance windows are looked at (the e2e suite uses 1 s, its windows last seconds)
PRESALE_SECONDS = env_float("PRESALE_TIMER_SECONDS", 30.0, "order")


class Worker(EventWorker):
    name = "order"

    @on_event("catalog", "product.published", catalog.ProductPublished)
    def product_published(self, session, event):
        products.apply_product(session, products.snapshot_from_event(event.data.product))

    @on_event("catalog", "product.updated", catalog.ProductUpdated)
    def product_updated(self, session, event):
        products.apply_product(session, products.snapshot_from_event(event.data.product))

    @on_event("catalog", "product.unpublished", catalog.ProductUnpublished)
    def product_unpublished(self, session, event):
        # The event says status "unpublished"; forcing it keeps the meaning of the event type
        # even if a producer forgot to set the status.
        snapshot = products.snapshot_from_event(event.data.product)
        products.apply_product(session, dataclasses.replace(snapshot, on_sale=False))

    @on_event("catalog", "product.trial_invited", catalog.TrialInvited)
    def trial_invited(self, session, event):
        early_access.keep_invitations(session, event.data)

    @on_event("logistics", "inventory.availability_changed", shipping.AvailabilityChanged)
    def availability_changed(self, session, event):
        availability.apply(session, event.data.skus, event.occurred_at)

    @on_event("payment", "payment.succeeded", payments.PaymentSucceeded)
    def payment_succeeded(self, session, event):
        orders.on_payment_succeeded(session, self.runtime, event.data)

    @on_event("payment", "payment.refunded", payments.PaymentRefunded)
    def payment_refunded(self, session, event):
        orders.on_payment_refunded(session, self.runtime, event.data)

    # After-sale requests shown on the order (aftersales.py): newest state by the flow's order.
    @on_event("support", "aftersale.applied", support.AfterSaleApplied)
    def aftersale_applied(self, session, event):
        aftersales.record(session, "applied", event.data)

    @on_event("support", "aftersale.approved", support.AfterSaleApproved)
    def aftersale_approved(self, session, event):
        aftersales.record(session, "approved", event.data)

    @on_event("support", "aftersale.refund_requested", support.AfterSaleRefundRequested)
    def aftersale_refund_requested(self, session, event):
        aftersales.record(session, "refund_requested", event.data)

    @on_event("support", "aftersale.closed", support.AfterSaleClosed)
    def aftersale_closed(self, session, event):
        aftersales.record(session, "closed", event.data)

    # One handler per shipment event type (nameko binds one routing key per entrypoint); the
    # exception and returned states are customer service's, they do not move the order.
    @on_event("logistics", "shipment.picked_up", shipping.ShipmentChanged)
    def shipment_picked_up(self, session, event):
        orders.on_shipment_changed(session, self.runtime, event.data)

    @on_event("logistics", "shipment.in_transit", shipping.ShipmentChanged)
    def shipment_in_transit(self, session, event):
        orders.on_shipment_changed(session, self.runtime, event.data)

    @on_event("logistics", "shipment.out_for_delivery", shipping.ShipmentChanged)
    def shipment_out_for_delivery(self, session, event):
        orders.on_shipment_changed(session, self.runtime, event.data)

    @on_event("logistics", "shipment.delivered", shipping.ShipmentChanged)
    def shipment_delivered(self, session, event):
        orders.on_shipment_changed(session, self.runtime, event.data)

    # A cancelled or fully refunded order's parcels: stopped at the warehouse, or on their way
    # back (the order shows them; its status does not change).
    @on_event("logistics", "shipment.cancelled", shipping.ShipmentChanged)
    def shipment_cancelled(self, session, event):
        orders.on_shipment_changed(session, self.runtime, event.data)

    @on_event("logistics", "shipment.returning", shipping.ShipmentChanged)
    def shipment_returning(self, session, event):
        orders.on_shipment_changed(session, self.runtime, event.data)

    @on_event("member", "member.deleted", member_events.MemberDeleted)
    def member_deleted(self, session, event):
        erasure.erase_member(session, self.runtime, event.data.member_id, erased_at(event))

    @timer(20)
    def cancel_unpaid_orders(self):
        with self.runtime.transaction() as session:
            orders.cancel_overdue(session, self.runtime, datetime.now(timezone.utc))

    @timer(PRESALE_SECONDS)  # pre-sale balance windows opening (the notice) and closing unpaid
    def presale_balance_windows(self):
        now = datetime.now(timezone.utc)
        with self.runtime.transaction() as session:
            presale.open_balance_windows(session, self.runtime, now)
        with self.runtime.transaction() as session:
            presale.close_unpaid_balances(session, self.runtime, now)

    @timer(15)  # an abandoned placement (lease lapsed, nobody retried) is undone within a minute
    def fail_stale_placements(self):
        with self.runtime.transaction() as session:
            placement.sweep_stale(session, self.runtime, datetime.now(timezone.utc))

    @timer(600)
    def complete_delivered_orders(self):
        with self.runtime.transaction() as session:
            orders.complete_overdue(session, self.runtime, datetime.now(timezone.utc))

    @timer(3600)
    def purge_idempotency_keys(self):
        with self.runtime.transaction() as session:
            idempotency.purge(session)
