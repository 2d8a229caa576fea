"""The member worker: reacts to other services' events (no gRPC calls from here)."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2

from servicekit.worker import EventWorker, on_event

from . import habits


class Worker(EventWorker):
    name = "member"

    @on_event("order", "order.paid", order_events_pb2.OrderPaid)
    def order_paid(self, session, event):
        """A paid order updates its member's shopping habits (once per event: the kit's inbox)."""
        habits.record_paid_order(session, event.data, event.occurred_at)
