"""Logistics' worker: learns the SKUs it may stock from catalog's product events."""
from __future__ import annotations

from mall.events.v1 import catalog_events_pb2 as catalog

from servicekit.worker import EventWorker, on_event

from .skus import CatalogProduct, register_product


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
