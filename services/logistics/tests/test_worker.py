"""The logistics worker as a real process: catalog's product events register the SKUs that
stock can then be received for; announcements reach RabbitMQ through the outbox relay."""

from mall.events.v1 import catalog_events_pb2 as catalog
from sqlalchemy import select

from services.logistics import stock
from services.logistics.models import Sku
from services.logistics.skus import register_product
from services.logistics.warehouses import create_warehouse

from .conftest import SHANGHAI, product


def catalog_product(version: int, status: str = "published", sku_ids=("sku-a", "sku-b")):
    return catalog.CatalogProduct(
        product_id="p-1", title="蕾丝三角裤", status=status, version=version,
        skus=[catalog.CatalogSku(sku_id=s, code=s.upper(), size="M", colour="黑色",
                                 price_fen=5900, active=True) for s in sku_ids])


def registered(runtime):
    with runtime.transaction() as session:
        return {s.sku_id: (s.active, s.catalog_version) for s in session.scalars(select(Sku))}


def test_product_events_register_skus_in_any_order(runtime, worker_process, publish_event,
                                                   wait_until):
    worker_process("logistics")
    publish_event("catalog", "product.published",
                  catalog.ProductPublished(product=catalog_product(1)))
    wait_until(lambda: registered(runtime) == {"sku-a": (True, 1), "sku-b": (True, 1)},
               timeout=20, message="two SKUs registered")
    publish_event("catalog", "product.unpublished",
                  catalog.ProductUnpublished(product=catalog_product(3, "unpublished")))
    publish_event("catalog", "product.updated",  # older than the unpublish: ignored
                  catalog.ProductUpdated(product=catalog_product(2, sku_ids=("sku-a", "sku-c"))))
    wait_until(lambda: registered(runtime).get("sku-c") == (True, 2), timeout=20,
               message="the late update's new SKU")
    assert registered(runtime) == {"sku-a": (False, 3), "sku-b": (False, 3), "sku-c": (True, 2)}
    with runtime.transaction() as session:  # goods of a known SKU can now be received
        create_warehouse(session, SHANGHAI)
        stock.receive_stock(runtime, session, "SH-EAST", "sku-a", 2,
                            caller=stock.Caller("staff", "r"))


def test_availability_announcements_reach_the_broker(runtime, relay_for, listen_for):
    with runtime.transaction() as session:
        create_warehouse(session, SHANGHAI)
        register_product(session, product())
    announcements = listen_for("logistics", "inventory.availability_changed")
    relay_for("logistics")
    with runtime.transaction() as session:
        stock.receive_stock(runtime, session, "SH-EAST", "sku-75b", 3,
                            caller=stock.Caller("staff", "r"))
    properties, envelope = announcements.next(timeout=20)[1:3]
    assert envelope["type"] == "inventory.availability_changed"
    assert envelope["source"] == "logistics" and properties.message_id == envelope["id"]
    assert envelope["data"] == {"skus": [{"skuId": "sku-75b", "sellable": "3", "level": "LOW"}]}
