"""Payment's reactions. First slice: a cancelled order closes its open payment intents."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2 as order_events

from servicekit.worker import EventWorker, on_event

from . import intents


class Worker(EventWorker):
    name = "payment"

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        intents.cancel_open_for_order(session, self.runtime, event.data.order_id)
