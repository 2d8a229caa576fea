"""Promotion's reactions. First slice: a cancelled order releases the coupons it locked."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2 as order_events

from servicekit.worker import EventWorker, on_event

from . import coupons


class Worker(EventWorker):
    name = "promotion"

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        coupons.release_for_order(session, self.runtime, event.data.order_id, event.data.member_id)
