"""The read model of promotion's sales (campaign.changed: newer versions only, redelivery
harmless) and the sale prices computed from it at read time: on now until the session's end, or
the next session's start (Friday 20:00-22:00 Beijing), scopes by category (style ancestors,
function facets, brands) with exclusions, per-SKU prices on the detail page."""
from datetime import datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from mall.catalog.v1 import catalog_pb2 as cpb
from mall.events.v1 import promotion_events_pb2 as ev
from mall.promotion.v1 import promotion_pb2 as ppb
from sqlalchemy import select

from services.catalog import readmodels, sales
from services.catalog.api import CatalogServicer
from services.catalog.models import SaleCampaign, Sku

from .helpers import bra_input, bra_skus, letter_input, letter_skus, published

FRI_21 = datetime(2026, 12, 4, 13, 0, tzinfo=timezone.utc)     # Friday 21:00 Beijing
FRI_22 = FRI_21 + timedelta(hours=1)


def stamp(moment):
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def changed(campaign_id="7", version=1, change="created", name="周五狂欢", status="active",
            kind=ppb.SALE, **rule):
    rule.setdefault("scope", ppb.SALE_ALL)
    rule.setdefault("price_percent", 80)
    spec = ppb.CampaignSpec(name=name, kind=kind, starts_at=stamp(FRI_21 - timedelta(days=10)),
                            ends_at=stamp(FRI_21 + timedelta(days=30)),
                            session=ppb.WeeklySession(weekday=5, start="20:00", end="22:00"),
                            sale=ppb.SaleRule(**rule) if kind == ppb.SALE else None)
    return ev.CampaignChanged(campaign=ppb.Campaign(id=campaign_id, spec=spec, status=status,
                                                    version=version),
                              change=change, changed_by="staff-1", version=version)


def apply(rt, data) -> bool:
    with rt.transaction() as s:
        return readmodels.apply_campaign_changed(s, data)


def stored(rt, campaign_id="7"):
    with rt.transaction() as s:
        row = s.get(SaleCampaign, campaign_id)
        return (row.version, row.status, row.name) if row else None


def test_newer_versions_apply_stale_and_redelivered_ones_do_not(rt):
    assert apply(rt, changed(version=1))
    assert not apply(rt, changed(version=1, name="again"))           # redelivered
    assert apply(rt, changed(version=3, change="updated", name="周五狂欢 加场"))
    assert not apply(rt, changed(version=2, change="updated", name="old"))  # late, older
    assert stored(rt) == (3, "active", "周五狂欢 加场")
    assert apply(rt, changed(version=4, change="ended", status="ended", name="周五狂欢 加场"))
    assert not apply(rt, changed(version=3, change="updated"))
    assert stored(rt) == (4, "ended", "周五狂欢 加场")
    # Ladders and gifts put no price on a card: not kept.
    assert not apply(rt, changed("8", kind=ppb.THRESHOLD))
    assert stored(rt, "8") is None


def listing(rt, now, book):
    servicer = CatalogServicer(rt, None)
    with rt.transaction() as s:
        from services.catalog import listing as listing_module
        page = listing_module.list_products(s, listing_module.Filters.for_shopper(
            cpb.ListProductsRequest()))
        sales.decorate_listing(s, book, page, now)
    assert servicer  # the servicer builds its own book the same way
    return {p.title: p for p in page.products}


def test_a_category_sale_shows_on_cards_until_22_then_the_next_session(rt, shop, storage):
    published(rt, storage, bra_input(shop), bra_skus(price=20000))     # in 文胸 › 无钢圈文胸
    published(rt, storage, letter_input(shop), letter_skus(price=5900))  # 内裤: not in the sale
    apply(rt, changed(scope=ppb.SALE_CATEGORIES, category_ids=[shop.bras]))
    book = sales.SaleBook(rt.sessions, ttl_seconds=0).book()
    cards = listing(rt, FRI_21, book)
    bra = cards["法式蕾丝无钢圈文胸"].sale
    assert bra.on_now and bra.ends_at == "2026-12-04T14:00:00Z" and bra.price_percent == 80
    assert (bra.sale_min_price_fen, bra.original_min_price_fen) == (16000, 20000)
    assert bra.schedule == "每周五 20:00-22:00"
    assert not cards["莫代尔高腰内裤"].HasField("sale")
    later = listing(rt, FRI_22, book)["法式蕾丝无钢圈文胸"].sale
    assert not later.on_now and later.starts_at == "2026-12-11T12:00:00Z" and later.ends_at == ""


def test_exclusions_by_brand_or_function_and_per_sku_prices_on_the_detail(rt, shop, storage):
    bra_id = published(rt, storage, bra_input(shop), bra_skus(price=20000))
    apply(rt, changed(exclude_category_ids=[shop.brand_a]))     # store-wide, brand 云裳 excluded
    book = sales.SaleBook(rt.sessions, ttl_seconds=0).book()
    assert not listing(rt, FRI_21, book)["法式蕾丝无钢圈文胸"].HasField("sale")
    with rt.transaction() as s:
        skus = s.scalars(select(Sku.id).where(Sku.product_id == bra_id).order_by(Sku.code)).all()
    apply(rt, changed(version=2, change="updated", exclude_category_ids=[shop.wireless],
                      items=[ppb.FlashSaleItem(sku_id=skus[0], sale_price_fen=9900)]))
    book = sales.SaleBook(rt.sessions, ttl_seconds=0).book()
    # The function facet 无钢圈 excludes the product from the percent; one SKU keeps its price.
    card = listing(rt, FRI_21, book)["法式蕾丝无钢圈文胸"].sale
    assert (card.sale_min_price_fen, card.sale_max_price_fen) == (9900, 9900)
    with rt.transaction() as s:
        from services.catalog import views
        detail = views.product_detail(s, bra_id, storage, shopper=True)
    sales.decorate_product(book, detail, FRI_21)
    assert detail.sale.on_now and detail.sale.campaign_id == "7"
    assert {s.id: s.sale_price_fen for s in detail.skus if s.sale_price_fen} == {skus[0]: 9900}


def test_no_sale_costs_no_query(rt, shop, storage):
    published(rt, storage, bra_input(shop), bra_skus())
    book = sales.SaleBook(rt.sessions, ttl_seconds=0).book()
    assert book is sales.EMPTY
    assert not listing(rt, FRI_21, book)["法式蕾丝无钢圈文胸"].HasField("sale")
