from datetime import datetime, timedelta, timezone

from mall.events.v1 import logistics_events_pb2 as lev
from mall.events.v1 import order_events_pb2 as oev

from services.catalog import readmodels, skus, views
from services.catalog.models import SkuAvailability

from .helpers import bra_input, bra_skus, create, product

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def availability(rt, sku_id):
    with rt.transaction() as s:
        row = s.get(SkuAvailability, sku_id)
        return (row.sellable, row.level) if row else None


def test_availability_is_upserted_and_older_news_is_ignored(rt):
    with rt.transaction() as s:
        readmodels.apply_availability(s, [lev.SkuAvailability(sku_id="s1", sellable=5,
                                                              level=lev.IN_STOCK)], NOW)
    assert availability(rt, "s1") == (5, "in_stock")
    with rt.transaction() as s:  # late delivery of an older event
        readmodels.apply_availability(s, [lev.SkuAvailability(sku_id="s1", sellable=99)],
                                      NOW - timedelta(minutes=1))
    assert availability(rt, "s1") == (5, "in_stock")
    with rt.transaction() as s:
        readmodels.apply_availability(s, [lev.SkuAvailability(sku_id="s1", sellable=0)],
                                      NOW + timedelta(minutes=1))
    assert availability(rt, "s1") == (0, "out")


def test_a_sku_never_heard_of_is_unknown_and_zero(rt, shop):
    product_id = create(rt, bra_input(shop), bra_skus())
    with rt.transaction() as s:
        view = skus.get_skus(s, [product_id, "missing"])
        assert view == []
        from sqlalchemy import select

        from services.catalog.models import Sku
        sku_id = s.scalars(select(Sku.id).where(Sku.product_id == product_id)).first()
        (one,) = skus.get_skus(s, [sku_id])
    assert one.sku.availability.sellable == 0 and one.sku.availability.level == 0
    assert one.product_title == "法式蕾丝无钢圈文胸" and one.category_ids[-1] == shop.bras


def test_review_summary_updates_rating_and_ignores_older_summaries(rt, shop):
    product_id = create(rt, bra_input(shop))
    with rt.transaction() as s:
        assert readmodels.apply_review_summary(s, product_id, 12, 4.75, NOW)
        assert not readmodels.apply_review_summary(s, product_id, 3, 2.0, NOW - timedelta(hours=1))
        assert not readmodels.apply_review_summary(s, "unknown-product", 1, 5.0, NOW)
    p = product(rt, product_id)
    assert (p.review_count, p.rating_milli) == (12, 4750)


def test_a_versioned_review_summary_keeps_the_highest_version_whatever_its_time(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    fit = {"runs_small": 2, "true_to_size": 1, "runs_large": 0, "sizes": [
        {"size": "75B", "review_count": 3, "rating": 4.0, "runs_small": 2, "true_to_size": 1,
         "runs_large": 0}]}
    with rt.transaction() as s:
        assert readmodels.apply_review_summary(s, product_id, 3, 4.0, NOW - timedelta(hours=1),
                                               version=2, fit=fit)
        # version 1, announced "later" by a clock ahead: still older
        assert not readmodels.apply_review_summary(s, product_id, 1, 5.0, NOW, version=1, fit={})
        assert not readmodels.apply_review_summary(s, product_id, 3, 4.0, NOW, version=2, fit={})
    p = product(rt, product_id)
    assert (p.review_count, p.rating_milli, p.review_summary_version) == (3, 4000, 2)
    with rt.transaction() as s:
        shown = views.product_detail(s, product_id, storage, shopper=False)
    assert (shown.fit.runs_small, shown.fit.true_to_size) == (2, 1)
    assert [(f.size, f.review_count, f.runs_small) for f in shown.fit.sizes] == [("75B", 3, 2)]


def test_paid_lines_add_to_sales_per_product(rt, shop):
    a = create(rt, bra_input(shop))
    b = create(rt, bra_input(shop, title="另一款"))
    with rt.transaction() as s:
        readmodels.apply_order_paid(s, [oev.OrderEventLine(product_id=a, quantity=2),
                                        oev.OrderEventLine(product_id=b, quantity=1),
                                        oev.OrderEventLine(product_id=a, quantity=3),
                                        oev.OrderEventLine(product_id="gone", quantity=9)])
    assert (product(rt, a).sales_count, product(rt, b).sales_count) == (5, 1)
