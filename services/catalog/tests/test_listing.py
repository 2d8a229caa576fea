from datetime import datetime, timedelta, timezone

import pytest
from mall.catalog.v1 import catalog_pb2 as pb
from mall.events.v1 import logistics_events_pb2 as lev
from sqlalchemy import event, select

from servicekit.errors import InvalidArgument
from services.catalog import listing, products, readmodels
from services.catalog.models import Product, Sku

from .helpers import bra_input, bra_skus, create, letter_input, letter_skus, published


def list_(rt, **kwargs):
    page = kwargs.pop("page", None)
    req = pb.ListProductsRequest(**kwargs)
    if page:
        req.page.CopyFrom(page)
    with rt.transaction() as s:
        return listing.list_products(s, listing.Filters.for_shopper(req))


def titles(response):
    return [p.title for p in response.products]


def stock(rt, product_id, sellable_by_size, colour=None):
    with rt.transaction() as s:
        skus = [x for x in s.scalars(select(Sku).where(Sku.product_id == product_id))
                if colour in (None, x.colour)]
        readmodels.apply_availability(s, [lev.SkuAvailability(sku_id=x.id,
                                                              sellable=sellable_by_size.get(x.size, 0))
                                          for x in skus], datetime.now(timezone.utc))


def set_fields(rt, product_id, **values):
    with rt.transaction() as s:
        p = s.get(Product, product_id)
        for k, v in values.items():
            setattr(p, k, v)


@pytest.fixture
def catalog(rt, shop, storage):
    """Five published products and one draft, with distinct prices, sales, ratings, dates."""
    ids = {
        "lace": published(rt, storage, bra_input(shop, "法式蕾丝无钢圈文胸"), bra_skus("L", 19900)),
        "push": published(rt, storage, bra_input(shop, "小胸聚拢文胸", category_id=shop.bras,
                                                 function_ids=[shop.push_up], brand_id=shop.brand_b,
                                                 description=pb.ProductDescription(material="锦纶")),
                          bra_skus("P", 25900, colours=("红色",))),
        "nursing": published(rt, storage, bra_input(shop, "纯棉哺乳文胸", function_ids=[shop.nursing,
                                                                                 shop.wireless],
                                                    description=pb.ProductDescription(material="纯棉")),
                             bra_skus("N", 12900, colours=("肤色",))),
        "modal": published(rt, storage, letter_input(shop, "莫代尔高腰内裤"), letter_skus("M", 5900)),
        "silk": published(rt, storage, letter_input(shop, "真丝睡裙", category_id=shop.sleepwear,
                                                    description=pb.ProductDescription(material="桑蚕丝 蕾丝")),
                          letter_skus("S", 59900, colours=("香槟色", "黑色"))),
    }
    create(rt, bra_input(shop, "蕾丝草稿文胸"), bra_skus("D"))
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for i, (name, sales, rating, reviews) in enumerate([("lace", 50, 4800, 20), ("push", 300, 4500, 90),
                                                        ("nursing", 10, 4900, 5), ("modal", 800, 4200, 300),
                                                        ("silk", 5, 4800, 40)]):
        set_fields(rt, ids[name], sales_count=sales, rating_milli=rating, review_count=reviews,
                   published_at=base + timedelta(days=i))
    return ids


def test_only_published_products_are_listed_newest_first(rt, catalog):
    assert titles(list_(rt)) == ["真丝睡裙", "莫代尔高腰内裤", "纯棉哺乳文胸", "小胸聚拢文胸",
                                 "法式蕾丝无钢圈文胸"]


@pytest.mark.parametrize("sort, expected", [
    (pb.PRICE_ASC, ["莫代尔高腰内裤", "纯棉哺乳文胸", "法式蕾丝无钢圈文胸", "小胸聚拢文胸", "真丝睡裙"]),
    (pb.PRICE_DESC, ["真丝睡裙", "小胸聚拢文胸", "法式蕾丝无钢圈文胸", "纯棉哺乳文胸", "莫代尔高腰内裤"]),
    (pb.SALES, ["莫代尔高腰内裤", "小胸聚拢文胸", "法式蕾丝无钢圈文胸", "纯棉哺乳文胸", "真丝睡裙"]),
    (pb.RATING, ["纯棉哺乳文胸", "真丝睡裙", "法式蕾丝无钢圈文胸", "小胸聚拢文胸", "莫代尔高腰内裤"]),
])
def test_sorts(rt, catalog, sort, expected):
    assert titles(list_(rt, sort=sort)) == expected


@pytest.mark.parametrize("sort", [pb.NEWEST, pb.PRICE_ASC, pb.PRICE_DESC, pb.SALES, pb.RATING])
def test_pages_walk_every_product_once_in_order(rt, catalog, sort):
    everything = titles(list_(rt, sort=sort))
    seen, token = [], ""
    while True:
        page = list_(rt, sort=sort, page=_page(2, token))
        seen += titles(page)
        token = page.page.next_page_token
        if not token:
            break
    assert seen == everything


def _page(size, token=""):
    from mall.common.v1 import common_pb2
    return common_pb2.PageRequest(page_size=size, page_token=token)


def test_a_tampered_or_foreign_token_is_invalid_argument_on_page_token(rt, catalog):
    token = list_(rt, page=_page(2)).page.next_page_token
    payload, signature = token.split(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    for bad in (forged, token + "x", "garbage", token.replace(".", "")):
        with pytest.raises(InvalidArgument) as err:
            list_(rt, page=_page(2, bad))
        assert [(v.field, v.rule) for v in err.value.violations] == [("page_token", "signed")]
    with pytest.raises(InvalidArgument):  # a token of another sort or filter is refused too
        list_(rt, sort=pb.SALES, page=_page(2, token))


def test_page_size_is_bounded(rt, catalog):
    with pytest.raises(InvalidArgument) as err:
        list_(rt, page=_page(101))
    assert err.value.violations[0].field == "page_size"


def test_category_covers_its_subtree_and_facets_narrow(rt, shop, catalog):
    assert set(titles(list_(rt, category_id=shop.bras))) == {"法式蕾丝无钢圈文胸", "小胸聚拢文胸",
                                                               "纯棉哺乳文胸"}
    assert set(titles(list_(rt, category_id=shop.wireless_bras))) == {"法式蕾丝无钢圈文胸", "纯棉哺乳文胸"}
    assert titles(list_(rt, function_ids=[shop.wireless, shop.nursing])) == ["纯棉哺乳文胸"]
    assert titles(list_(rt, category_id=shop.push_up)) == ["小胸聚拢文胸"]  # a facet as a category
    assert set(titles(list_(rt, brand_ids=[shop.brand_b]))) == {"小胸聚拢文胸", "莫代尔高腰内裤",
                                                                 "真丝睡裙"}


def test_price_range_is_on_the_lowest_price_inclusive(rt, catalog):
    assert titles(list_(rt, sort=pb.PRICE_ASC, min_price_fen=12900, max_price_fen=19900)) == [
        "纯棉哺乳文胸", "法式蕾丝无钢圈文胸"]


def test_size_filter_wants_stock_and_colour_filter_does_not(rt, catalog):
    assert titles(list_(rt, sizes=["75B"])) == []  # nothing heard from logistics yet
    stock(rt, catalog["lace"], {"75B": 3}, colour="黑色")
    stock(rt, catalog["push"], {"75B": 0, "80C": 4})
    assert titles(list_(rt, sizes=["75b"])) == ["法式蕾丝无钢圈文胸"]
    assert titles(list_(rt, sizes=["80C"])) == ["小胸聚拢文胸"]
    assert set(titles(list_(rt, colours=["黑色"]))) == {"法式蕾丝无钢圈文胸", "真丝睡裙"}
    assert titles(list_(rt, sizes=["75B"], colours=["肤色"])) == []  # the 75B in stock is black
    assert titles(list_(rt, sizes=["75B"], colours=["黑色"])) == ["法式蕾丝无钢圈文胸"]
    summary = {p.title: p for p in list_(rt).products}
    assert summary["法式蕾丝无钢圈文胸"].in_stock and not summary["真丝睡裙"].in_stock
    assert list(summary["真丝睡裙"].colours) == ["香槟色", "黑色"]
    assert list(summary["法式蕾丝无钢圈文胸"].sizes) == ["75B", "75C", "80B", "80C"]


def test_bad_filters_name_their_field(rt, shop, catalog):
    with pytest.raises(InvalidArgument) as err:
        list_(rt, category_id="nope", function_ids=[shop.brand_a, "x"], min_price_fen=-1,
              sizes=["99Z"])
    assert {(v.field, v.rule) for v in err.value.violations} == {
        ("category_id", "exists"), ("function_ids[0]", "kind"), ("function_ids[1]", "exists"),
        ("min_price_fen", "non_negative"), ("sizes[0]", "size")}


def test_keyword_search_in_chinese(rt, catalog):
    assert set(titles(list_(rt, query="蕾丝"))) == {"法式蕾丝无钢圈文胸", "真丝睡裙"}  # title or material
    assert set(titles(list_(rt, query="无钢圈文胸"))) == {"法式蕾丝无钢圈文胸", "纯棉哺乳文胸"}
    assert titles(list_(rt, query="聚拢")) == ["小胸聚拢文胸"]
    assert titles(list_(rt, query="莫代尔 内裤")) == ["莫代尔高腰内裤"]
    assert titles(list_(rt, query="睡衣")) == ["真丝睡裙"]  # through the category name
    assert titles(list_(rt, query="泳衣")) == []
    assert titles(list_(rt, query="！！")) == []
    # relevance: a title hit outranks a material hit
    assert titles(list_(rt, query="蕾丝"))[0] == "法式蕾丝无钢圈文胸"


def test_search_results_page_by_relevance(rt, catalog):
    first = list_(rt, query="文胸", page=_page(2))
    second = list_(rt, query="文胸", page=_page(2, first.page.next_page_token))
    assert len(first.products) == 2 and len(second.products) == 1
    assert set(titles(first)) | set(titles(second)) == {"法式蕾丝无钢圈文胸", "小胸聚拢文胸",
                                                        "纯棉哺乳文胸"}


def test_a_renamed_facet_is_found_by_its_new_name(rt, shop, catalog):
    from services.catalog import categories
    with rt.transaction() as s:
        categories.update_category(s, shop.nursing, pb.CategoryInput(kind=pb.FUNCTION, name="孕哺"))
    assert titles(list_(rt, query="孕哺")) == ["纯棉哺乳文胸"]


def test_unpublished_products_disappear(rt, catalog):
    with rt.transaction() as s:
        products.unpublish(rt, s, catalog["silk"])
    assert "真丝睡裙" not in titles(list_(rt))


def test_a_page_costs_a_fixed_number_of_queries(rt, shop, storage, catalog):
    for i in range(12):
        published(rt, storage, letter_input(shop, f"无痕内裤{i}"), letter_skus(f"W{i}"))
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        page = list_(rt, page=_page(15), function_ids=[], query="")
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
    assert len(page.products) == 15
    assert len(statements) == 1  # the page itself: cards carry their variants, no N+1


def test_what_shoppers_call_it_finds_what_the_shop_calls_it(rt, catalog):
    assert set(titles(list_(rt, query="内衣"))) == {"法式蕾丝无钢圈文胸", "小胸聚拢文胸", "纯棉哺乳文胸"}
    assert titles(list_(rt, query="丝绸"))[0] == "真丝睡裙"
    # the panties never say 三角裤, their category 内裤 does
    assert titles(list_(rt, query="三角裤")) == ["莫代尔高腰内裤"]


def test_reindex_rebuilds_the_index_from_the_products(rt, catalog):
    from sqlalchemy import delete

    from services.catalog.models import SearchTerm
    from services.catalog.reindex import reindex_all
    with rt.transaction() as s:
        s.execute(delete(SearchTerm))
    assert titles(list_(rt, query="蕾丝")) == []
    assert reindex_all(rt) == 6  # drafts too: staff search them
    assert set(titles(list_(rt, query="蕾丝"))) == {"法式蕾丝无钢圈文胸", "真丝睡裙"}
