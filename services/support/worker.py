"""Support's reactions: tell the member about their order, from its confirmation to its end."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2 as order_events

from servicekit.worker import EventWorker, on_event

from . import inbox


class Worker(EventWorker):
    name = "support"

    @on_event("order", "order.paid", order_events.OrderPaid)
    def order_paid(self, session, event):
        inbox.on_order_paid(session, event.data)

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        inbox.on_order_cancelled(session, event.data)

    @on_event("order", "order.created", order_events.OrderCreated)
    def order_created(self, session, event):
        inbox.on_order_created(session, event.data)

    @on_event("order", "order.status_changed", order_events.OrderStatusChanged)
    def order_status_changed(self, session, event):
        inbox.on_order_status_changed(session, event.data)
