"""The catalog's worker: keeps the read models that shoppers sort and filter by up to date."""
from __future__ import annotations

from mall.events.v1.logistics_events_pb2 import AvailabilityChanged
from mall.events.v1.order_events_pb2 import OrderPaid
from mall.events.v1.promotion_events_pb2 import CampaignChanged
from mall.events.v1.support_events_pb2 import ReviewSummaryChanged

from servicekit.worker import EventWorker, on_event

from . import readmodels


class Worker(EventWorker):
    name = "catalog"

    @on_event("logistics", "inventory.availability_changed", AvailabilityChanged)
    def availability_changed(self, session, event):
        readmodels.apply_availability(session, event.data.skus, event.occurred_at)

    @on_event("support", "review.summary_changed", ReviewSummaryChanged)
    def review_summary_changed(self, session, event):
        data = event.data
        fit = {"runs_small": data.runs_small, "true_to_size": data.true_to_size,
               "runs_large": data.runs_large,
               "sizes": [{"size": s.size, "review_count": s.review_count,
                          "rating": s.average_rating, "runs_small": s.runs_small,
                          "true_to_size": s.true_to_size, "runs_large": s.runs_large}
                         for s in data.sizes]}
        readmodels.apply_review_summary(session, data.product_id, data.review_count,
                                        data.average_rating, event.occurred_at,
                                        version=data.version, fit=fit)

    @on_event("order", "order.paid", OrderPaid)
    def order_paid(self, session, event):
        readmodels.apply_order_paid(session, event.data.lines)

    @on_event("promotion", "campaign.changed", CampaignChanged)
    def campaign_changed(self, session, event):
        readmodels.apply_campaign_changed(session, event.data)
