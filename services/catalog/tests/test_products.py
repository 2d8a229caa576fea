import pytest
from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import select

from servicekit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.catalog import products
from services.catalog.models import Product, SearchTerm, Sku

from .helpers import (
    add_image,
    bra_input,
    bra_skus,
    count,
    create,
    letter_input,
    letter_skus,
    outbox,
    product,
    published,
)


def fields(err):
    return {(v.field, v.rule) for v in err.violations}


def test_a_bra_gets_band_cup_sizes_prices_and_stays_a_quiet_draft(rt, shop):
    product_id = create(rt, bra_input(shop), bra_skus(price=19900))
    with rt.transaction() as s:
        skus = s.scalars(select(Sku).where(Sku.product_id == product_id)).all()
        assert sorted({x.size for x in skus}) == ["75B", "75C", "80B", "80C"]
        assert {(x.band, x.cup) for x in skus} >= {(75, "B"), (80, "C")}
        p = s.get(Product, product_id)
        assert (p.status, p.min_price_fen, p.max_price_fen) == ("draft", 19900, 20900)
    assert outbox(rt) == []  # a draft is nobody's business yet


def test_every_bad_field_is_named_and_nothing_is_written(rt, shop):
    bad = bra_input(shop, title="", category_id="no-such-category", function_ids=["nope"],
                    brand_id=shop.wireless)
    skus = [pb.SkuInput(code="A-1", band=75, cup="B", colour="黑色", price_fen=-100),
            pb.SkuInput(code="A-1", band=72, cup="Z", colour="黑色", price_fen=100)]
    with pytest.raises(InvalidArgument) as err:
        create(rt, bad, skus)
    assert fields(err.value) >= {
        ("product.title", "required"), ("product.category_id", "exists"),
        ("product.function_ids[0]", "exists"), ("product.brand_id", "kind"),
        ("skus[0].price_fen", "positive"), ("skus[1].band", "band"), ("skus[1].cup", "cup")}
    assert count(rt, Product) == 0 and count(rt, Sku) == 0 and count(rt, SearchTerm) == 0


def test_a_style_category_is_required_not_a_facet(rt, shop):
    with pytest.raises(InvalidArgument) as err:
        create(rt, bra_input(shop, category_id=shop.wireless))
    assert ("product.category_id", "kind") in fields(err.value)


def test_duplicate_sku_codes_inside_a_request_and_in_the_shop(rt, shop):
    with pytest.raises(InvalidArgument) as err:
        create(rt, letter_input(shop), [pb.SkuInput(code="X-1", size="M", colour="白", price_fen=100),
                                        pb.SkuInput(code="X-1", size="L", colour="白", price_fen=100)])
    assert ("skus[1].code", "unique") in fields(err.value)

    create(rt, letter_input(shop), letter_skus(prefix="PNT"))
    with pytest.raises(AlreadyExists) as err:
        create(rt, letter_input(shop, title="另一条"), letter_skus(prefix="PNT"))
    assert ("skus[0].code", "unique") in fields(err.value)
    assert count(rt, Product) == 1


def test_same_size_and_colour_twice_is_refused(rt, shop):
    with pytest.raises(InvalidArgument) as err:
        create(rt, letter_input(shop), [pb.SkuInput(code="A", size="M", colour="白", price_fen=1),
                                        pb.SkuInput(code="B", size="M", colour="白", price_fen=1)])
    assert ("skus[1]", "unique_variant") in fields(err.value)


def test_size_chart_rows_must_be_sizes_of_the_system_with_a_value_per_column(rt, shop):
    chart = pb.SizeChart(columns=["下胸围"], rows=[pb.SizeChartRow(size="M", values=["1", "2"])])
    with pytest.raises(InvalidArgument) as err:
        create(rt, bra_input(shop, size_chart=chart))
    assert fields(err.value) >= {("product.size_chart.rows[0].size", "size"),
                                 ("product.size_chart.rows[0].values", "columns")}


def test_publish_needs_an_active_sku_and_an_image_then_announces_once(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    with pytest.raises(FailedPrecondition) as err, rt.transaction() as s:
        products.publish(rt, s, product_id)
    assert {v.field for v in err.value.violations} == {"skus", "media"}

    with rt.transaction() as s:
        products.add_skus(rt, s, product_id, bra_skus())
    add_image(rt, storage, product_id)
    with rt.transaction() as s:
        products.publish(rt, s, product_id)
    with rt.transaction() as s:  # a retried publish is a no-op
        products.publish(rt, s, product_id)
    events = outbox(rt, "product.published")
    assert len(events) == 1
    data = events[0]["data"]["product"]
    assert data["productId"] == product_id and data["status"] == "published"
    assert data["minPriceFen"] == "19900" and len(data["skus"]) == 8
    assert data["coverImageUrl"].startswith("/media/products/")
    assert data["categoryIds"][-1] == shop.bras and data["facetIds"] == [shop.wireless]
    assert data["brandName"] == "云裳"


def test_edits_of_a_published_product_are_announced_with_a_growing_version(rt, shop, storage):
    product_id = published(rt, storage, bra_input(shop), bra_skus())
    before = product(rt, product_id).version
    with rt.transaction() as s:
        products.update_product(rt, s, product_id, bra_input(shop, title="法式蕾丝聚拢文胸",
                                                              function_ids=[shop.push_up]))
    with rt.transaction() as s:
        sku = s.scalars(select(Sku).where(Sku.product_id == product_id)).first()
        products.update_sku(rt, s, sku.id, pb.SkuInput(code=sku.code, band=sku.band, cup=sku.cup,
                                                       colour=sku.colour, price_fen=9900))
    updates = outbox(rt, "product.updated")
    assert [u["data"]["product"]["title"] for u in updates] == ["法式蕾丝聚拢文胸"] * 2
    assert updates[-1]["data"]["product"]["minPriceFen"] == "9900"
    assert int(updates[-1]["data"]["product"]["version"]) > before
    assert product(rt, product_id).min_price_fen == 9900


def test_update_sku_keeps_codes_unique_and_can_deactivate(rt, shop):
    product_id = create(rt, letter_input(shop), letter_skus(prefix="A", sizes=("S", "M")))
    with rt.transaction() as s:
        first, second = s.scalars(select(Sku).where(Sku.product_id == product_id)
                                  .order_by(Sku.position)).all()
    with pytest.raises(AlreadyExists) as err, rt.transaction() as s:
        products.update_sku(rt, s, second.id, pb.SkuInput(code=first.code, size="M", colour="白色",
                                                          price_fen=100))
    assert ("sku.code", "unique") in fields(err.value)
    with rt.transaction() as s:
        products.update_sku(rt, s, second.id, pb.SkuInput(code=second.code, size="M",
                                                          colour="白色", price_fen=100, active=False))
    p = product(rt, product_id)
    assert (p.min_price_fen, p.max_price_fen) == (5900, 5900)  # inactive SKUs do not count


def test_size_system_cannot_change_once_there_are_skus(rt, shop):
    product_id = create(rt, letter_input(shop), letter_skus())
    with pytest.raises(InvalidArgument) as err, rt.transaction() as s:
        products.update_product(rt, s, product_id, letter_input(shop, size_system=pb.BRA))
    assert ("product.size_system", "immutable") in fields(err.value)


def test_unpublish_is_guarded_by_the_state_machine(rt, shop, storage):
    draft = create(rt, letter_input(shop), letter_skus())
    with pytest.raises(FailedPrecondition), rt.transaction() as s:
        products.unpublish(rt, s, draft)
    product_id = published(rt, storage, letter_input(shop, title="纯棉三角裤"), letter_skus("B"))
    for _ in range(2):
        with rt.transaction() as s:
            products.unpublish(rt, s, product_id)
    assert len(outbox(rt, "product.unpublished")) == 1
    assert product(rt, product_id).status == "unpublished"
    with rt.transaction() as s:  # and back again
        products.publish(rt, s, product_id)
    assert product(rt, product_id).status == "published"


def test_unknown_product_is_not_found(rt, shop):
    with pytest.raises(NotFound), rt.transaction() as s:
        products.publish(rt, s, "00000000-0000-0000-0000-000000000000")
