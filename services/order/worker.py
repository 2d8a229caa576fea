"""Order's reactions. First slice: keep the product read model in step with catalog, and forget
idempotency keys once no client would retry them."""
from __future__ import annotations

from mall.events.v1 import catalog_events_pb2 as catalog

from servicekit import idempotency
from servicekit.worker import EventWorker, on_event, timer

from . import products


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
        products.apply_product(session, products.ProductSnapshot(
            snapshot.product_id, snapshot.title, False, snapshot.version, snapshot.skus))

    @timer(3600)
    def purge_idempotency_keys(self):
        with self.runtime.transaction() as session:
            idempotency.purge(session)
