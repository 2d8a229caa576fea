"""Support's reactions. First slice: tell the member when their order is paid or cancelled."""
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
