"""The product read model follows catalog's events, whatever order they arrive in."""
from mall.events.v1 import catalog_events_pb2 as catalog

from services.order import products
from services.order.models import ProductSku

from .helpers import catalog_product


def apply(runtime, product):
    with runtime.transaction() as session:
        return products.apply_product(session, products.snapshot_from_event(product))


def sku(runtime, sku_id):
    with runtime.transaction() as session:
        return session.get(ProductSku, sku_id)


def test_published_product_writes_each_sku_with_its_attributes_and_price(runtime):
    assert apply(runtime, catalog_product()) == 2
    row = sku(runtime, "sku-75b-black")
    assert (row.product_id, row.title, row.price_fen, row.published) == \
        ("p-1", "无钢圈聚拢文胸", 19900, True)
    assert row.attributes == {"size": "75B", "band": "75", "cup": "B", "colour": "黑色"}


def test_update_changes_price_and_unlisted_or_inactive_skus_stop_being_buyable(runtime):
    apply(runtime, catalog_product(version=1))
    apply(runtime, catalog_product(version=2, skus=[
        catalog.CatalogSku(sku_id="sku-75b-black", size="75B", colour="黑色", price_fen=15900,
                           active=False)]))
    assert sku(runtime, "sku-75b-black").price_fen == 15900
    assert sku(runtime, "sku-75b-black").published is False   # inactive
    assert sku(runtime, "sku-80c-nude").published is False    # no longer listed


def test_unpublished_status_makes_every_sku_unbuyable(runtime):
    apply(runtime, catalog_product(version=1))
    apply(runtime, catalog_product(version=2, status="unpublished"))
    assert not sku(runtime, "sku-75b-black").published
    assert not sku(runtime, "sku-80c-nude").published


def test_a_late_older_event_changes_nothing(runtime):
    apply(runtime, catalog_product(version=1))
    apply(runtime, catalog_product(version=3, status="unpublished"))
    assert apply(runtime, catalog_product(version=2)) == 0
    assert not sku(runtime, "sku-75b-black").published


def test_the_same_event_twice_leaves_the_same_state(runtime):
    apply(runtime, catalog_product(version=4))
    apply(runtime, catalog_product(version=4))
    with runtime.transaction() as session:
        assert session.query(ProductSku).count() == 2
    assert sku(runtime, "sku-75b-black").published
