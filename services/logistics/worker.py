"""Logistics' worker: learns SKUs from catalog's product events, commits or releases stock and
plans shipments on order events, stops the parcels of cancelled or fully refunded orders, and
keeps after-sales returns (support's aftersale.approved / aftersale.closed), and runs the
timers (reservation expiry, waybill booking, stopping parcels at the carrier, polling
silent shipments)."""
from __future__ import annotations

from mall.events.v1 import catalog_events_pb2 as catalog
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import support_events_pb2 as support_events

from servicekit.config import env_float
from servicekit.erasure import erased_at
from servicekit.times import parse_rfc3339
from servicekit.worker import EventWorker, on_event, timer

from . import (
    erasure,
    fulfilment,
    gifts,
    imported,
    reservations,
    returns,
    shipments,
    stopping,
    tracking,
)
from .shipments import PaidOrder
from .skus import CatalogProduct, register_product

EXPIRY_INTERVAL = env_float("RESERVATION_EXPIRY_INTERVAL_SECONDS", 30, "logistics")
BOOKING_INTERVAL = env_float("BOOKING_INTERVAL_SECONDS", 2, "logistics")
POLL_INTERVAL = env_float("TRACKING_POLL_INTERVAL_SECONDS", 300, "logistics")


class Worker(EventWorker):
    name = "logistics"

    @on_event("catalog", "product.published", catalog.ProductPublished)
    def product_published(self, session, event):
        register_product(session, CatalogProduct.from_event(event.data.product))

    @on_event("catalog", "product.updated", catalog.ProductUpdated)
    def product_updated(self, session, event):
        register_product(session, CatalogProduct.from_event(event.data.product))

    # Unpublishing keeps the SKUs (their goods are still in the warehouse) but marks them inactive.
    @on_event("catalog", "product.unpublished", catalog.ProductUnpublished)
    def product_unpublished(self, session, event):
        register_product(session, CatalogProduct.from_event(event.data.product))

    @on_event("order", "order.paid", order_events.OrderPaid)
    def order_paid(self, session, event):
        fulfilment.order_paid(self.runtime, session, PaidOrder.from_event(event.data), event.id)

    @on_event("order", "order.deposit_paid", order_events.OrderDepositPaid)
    def order_deposit_paid(self, session, event):
        """A pre-sale waits for its balance: its stock stays held until the window closed."""
        if event.data.hold_until:
            reservations.hold_until(session, event.data.order_id, parse_rfc3339(event.data.hold_until))

    @on_event("order", "order.imported", order_events.OrderImported)
    def order_imported(self, session, event):
        imported.order_imported(self.runtime, session, event.data, event.id)

    @on_event("order", "order.imported_batch", order_events.OrdersImported)
    def orders_imported(self, session, event):
        imported.orders_imported(self.runtime, session, event.data, event.id)

    @on_event("member", "member.deleted", member_events.MemberDeleted)
    def member_deleted(self, session, event):
        erasure.erase_member(session, event.data.member_id, erased_at(event))

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        fulfilment.order_cancelled(self.runtime, session, event.data.order_id,
                                   event.data.reason, event.id, event.data.was_paid)

    @on_event("order", "order.refunded", order_events.OrderRefunded)
    def order_refunded(self, session, event):
        fulfilment.order_refunded(self.runtime, session, event.data.order_id, event.data.full)

    @on_event("member", "points.gift_redeemed", member_events.PointsGiftRedeemed)
    def gift_redeemed(self, session, event):
        """A points-mall gift ships from the nearest warehouse with stock, or gift.unavailable."""
        gifts.gift_redeemed(self.runtime, session, event.data, event.id)

    @on_event("support", "aftersale.approved", support_events.AfterSaleApproved)
    def aftersale_approved(self, session, event):
        """A return is expected (and an exchange's new SKUs reserved, or exchange.unavailable)."""
        returns.approved(self.runtime, session, event.data, event.id)

    @on_event("support", "aftersale.closed", support_events.AfterSaleClosed)
    def aftersale_closed(self, session, event):
        """The expectation is dropped and an exchange's held stock released."""
        returns.closed(self.runtime, session, event.data, event.id)

    @timer(EXPIRY_INTERVAL)
    def expire_reservations(self):
        reservations.expire_due(self.runtime)

    @timer(BOOKING_INTERVAL)
    def book_waybills(self):
        shipments.book_pending(self.runtime)

    @timer(BOOKING_INTERVAL)
    def stop_parcels(self):
        stopping.stop_pending(self.runtime)

    @timer(POLL_INTERVAL)
    def poll_silent_shipments(self):
        tracking.poll_silent(self.runtime)
