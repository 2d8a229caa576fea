"""The catalog worker as a real process on RabbitMQ: availability, reviews and sales reach the
listing; a redelivered event is applied once; an unknown field does no harm."""
from mall.catalog.v1 import catalog_pb2 as pb
from mall.events.v1 import logistics_events_pb2 as lev
from mall.events.v1 import order_events_pb2 as oev
from sqlalchemy import select

from services.catalog import listing
from services.catalog.models import Product, Sku, SkuAvailability

from .helpers import bra_input, bra_skus, product, published


def test_events_feed_availability_rating_and_sales(rt, shop, storage, worker_process,
                                                    publish_event, wait_until):
    product_id = published(rt, storage, bra_input(shop), bra_skus())
    with rt.transaction() as s:
        sku_ids = s.scalars(select(Sku.id).where(Sku.product_id == product_id)
                            .order_by(Sku.position)).all()
    worker_process("catalog")

    publish_event("logistics", "inventory.availability_changed", lev.AvailabilityChanged(skus=[
        lev.SkuAvailability(sku_id=sku_ids[0], sellable=7, level=lev.IN_STOCK),
        lev.SkuAvailability(sku_id="sku-from-elsewhere", sellable=1, level=lev.LOW)]))
    paid = publish_event("order", "order.paid", oev.OrderPaid(order_id="o-1", lines=[
        oev.OrderEventLine(sku_id=sku_ids[0], product_id=product_id, quantity=2)]))
    publish_event("order", "order.paid", paid["data"], event_id=paid["id"])  # redelivered
    publish_event("support", "review.summary_changed",
                  {"productId": product_id, "reviewCount": 8, "averageRating": 4.5,
                   "sentiment": "positive"})  # a newer producer's extra field is ignored

    def settled():
        with rt.transaction() as s:
            stock = s.get(SkuAvailability, sku_ids[0])
            p = s.get(Product, product_id)
            return stock and stock.sellable == 7 and p.review_count == 8 and p.sales_count >= 2

    wait_until(settled, timeout=30, message="availability, reviews and sales applied")
    assert product(rt, product_id).sales_count == 2  # the duplicate changed nothing
    assert product(rt, product_id).rating_milli == 4500
    with rt.transaction() as s:
        page = listing.list_products(s, listing.Filters.for_shopper(pb.ListProductsRequest(
            sizes=[s.get(Sku, sku_ids[0]).size])))
    assert [p.id for p in page.products] == [product_id] and page.products[0].in_stock
