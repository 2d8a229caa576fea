"""Catalog's events reach the read model through the real broker and the real worker process."""
from mall.events.v1 import catalog_events_pb2 as catalog
from sqlalchemy import select

from services.order.models import ProductSku

from .helpers import catalog_product


def skus(runtime):
    with runtime.transaction() as session:
        return {row.sku_id: (row.price_fen, row.published, row.product_version)
                for row in session.scalars(select(ProductSku))}


def test_published_then_unpublished_reach_the_read_model_once_even_if_redelivered(
        runtime, worker_process, publish_event, wait_until):
    worker = worker_process("order")
    published = publish_event("catalog", "product.published",
                              catalog.ProductPublished(product=catalog_product(version=1)))
    wait_until(lambda: len(skus(runtime)) == 2, message="product.published applied")
    publish_event("catalog", "product.unpublished", catalog.ProductUnpublished(
        product=catalog_product(version=2, status="unpublished")))
    wait_until(lambda: not any(p for _, p, _ in skus(runtime).values()),
               message="product.unpublished applied")
    # The first event delivered again (same id) and an older update: neither republishes.
    publish_event("catalog", "product.published",
                  catalog.ProductPublished(product=catalog_product(version=1)),
                  event_id=published["id"])
    publish_event("catalog", "product.updated",
                  catalog.ProductUpdated(product=catalog_product(version=1)))
    # A sentinel behind the redelivery on the same queue: once it is applied, so is the redelivery.
    publish_event("catalog", "product.published", catalog.ProductPublished(product=catalog_product(
        product_id="p-2", version=1, skus=[catalog.CatalogSku(sku_id="sku-s", price_fen=100,
                                                              active=True)])))
    wait_until(lambda: "sku-s" in skus(runtime) and handled(runtime) == 4,
               message="the redelivery, the stale update and the sentinel were handled")
    assert skus(runtime) == {"sku-75b-black": (19900, False, 2), "sku-80c-nude": (20900, False, 2),
                             "sku-s": (100, True, 1)}
    assert "Traceback" not in worker.log()


def handled(runtime) -> int:
    """Events the worker applied (a duplicate adds no inbox row)."""
    with runtime.transaction() as session:
        return len(session.execute(runtime.inbox_table.select()).all())


def test_payment_and_delivery_events_move_an_order_once_through_the_real_worker(
        runtime, worker_process, publish_event, wait_until):
    from mall.events.v1 import logistics_events_pb2 as shipping

    from servicekit.testing import outbox_events
    from services.order.models import Order

    from .orders_helpers import place, succeeded

    def status(order_id):
        with runtime.transaction() as session:
            return session.get(Order, order_id).status

    order_id = place(runtime)
    worker = worker_process("order")
    paid = publish_event("payment", "payment.succeeded", succeeded(order_id, 43415))
    wait_until(lambda: status(order_id) == "paid", message="payment.succeeded applied")
    publish_event("payment", "payment.succeeded", succeeded(order_id, 43415), event_id=paid["id"])
    publish_event("logistics", "shipment.delivered", shipping.ShipmentChanged(
        shipment_id="s-1", order_id=order_id, state=shipping.SHIPMENT_DELIVERED, shipment_count=1))
    wait_until(lambda: status(order_id) == "delivered", message="shipment.delivered applied")
    assert len(outbox_events(runtime, "order.paid")) == 1
    assert "Traceback" not in worker.log()
