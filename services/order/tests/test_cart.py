"""The cart's rules: quantities, SKUs that exist and are on sale, current prices."""
import pytest

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from services.order import cart, products
from services.order.models import CartItem

from .helpers import catalog_product

ALICE, BOB = "member-alice", "member-bob"


@pytest.fixture
def on_sale(runtime):
    with runtime.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(catalog_product()))
    return runtime


def run(runtime, fn, *args):
    with runtime.transaction() as session:
        return fn(session, *args)


def fields(err):
    return {(v.field, v.rule) for v in err.value.violations}


def test_add_prices_from_the_read_model_and_adds_up_repeated_adds(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 2)
    view = run(on_sale, cart.add_item, ALICE, "sku-75b-black", 3)
    assert [(line.sku_id, line.quantity, line.unit_price_fen, line.line_total_fen) for line in view.lines] == \
        [("sku-75b-black", 5, 19900, 99500)]
    assert view.lines[0].attributes["size"] == "75B"
    assert view.subtotal_fen == 99500 and view.item_count == 5


def test_each_member_has_their_own_cart(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 1)
    run(on_sale, cart.add_item, BOB, "sku-80c-nude", 4)
    assert [line.sku_id for line in run(on_sale, cart.get_cart, ALICE).lines] == ["sku-75b-black"]
    assert [line.sku_id for line in run(on_sale, cart.get_cart, BOB).lines] == ["sku-80c-nude"]


@pytest.mark.parametrize("quantity", [0, -1, 100])
def test_quantity_outside_1_to_99_is_refused(on_sale, quantity):
    with pytest.raises(InvalidArgument) as err:
        run(on_sale, cart.add_item, ALICE, "sku-75b-black", quantity)
    assert fields(err) == {("quantity", "range")}
    assert run(on_sale, cart.get_cart, ALICE).lines == []


def test_adding_beyond_99_of_one_sku_is_refused_and_the_line_is_kept(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 90)
    with pytest.raises(InvalidArgument) as err:
        run(on_sale, cart.add_item, ALICE, "sku-75b-black", 10)
    assert fields(err) == {("quantity", "max_per_line")}
    assert "at most 9" in err.value.violations[0].description
    assert run(on_sale, cart.get_cart, ALICE).lines[0].quantity == 90


def test_missing_sku_and_bad_quantity_are_reported_together(on_sale):
    with pytest.raises(InvalidArgument) as err:
        run(on_sale, cart.add_item, ALICE, "", 0)
    assert fields(err) == {("sku_id", "required"), ("quantity", "range")}


def test_unknown_sku_is_invalid_argument_on_sku_id(on_sale):
    with pytest.raises(InvalidArgument) as err:
        run(on_sale, cart.add_item, ALICE, "sku-nope", 1)
    assert fields(err) == {("sku_id", "exists")}


def test_unpublished_sku_cannot_be_added_but_stays_visible_marked_in_the_cart(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 1)
    run(on_sale, cart.add_item, ALICE, "sku-80c-nude", 2)
    with on_sale.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(
            catalog_product(version=2, status="unpublished")))
    with pytest.raises(FailedPrecondition) as err:
        run(on_sale, cart.add_item, BOB, "sku-75b-black", 1)
    assert fields(err) == {("sku_id", "published")}
    view = run(on_sale, cart.get_cart, ALICE)
    assert {(line.sku_id, line.available, line.unavailable_reason) for line in view.lines} == \
        {("sku-75b-black", False, "unpublished"), ("sku-80c-nude", False, "unpublished")}
    assert view.subtotal_fen == 0 and view.item_count == 0 and view.unavailable_line_count == 2


def test_cart_shows_the_current_price_not_the_price_when_added(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 2)
    from mall.events.v1 import catalog_events_pb2 as catalog
    with on_sale.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(catalog_product(
            version=2, skus=[catalog.CatalogSku(sku_id="sku-75b-black", size="75B",
                                                colour="黑色", price_fen=12900, active=True)])))
    line = run(on_sale, cart.get_cart, ALICE).lines[0]
    assert (line.unit_price_fen, line.line_total_fen) == (12900, 25800)


def test_update_sets_the_quantity_and_refuses_a_line_not_in_the_cart(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 2)
    assert run(on_sale, cart.update_item, ALICE, "sku-75b-black", 7).lines[0].quantity == 7
    with pytest.raises(NotFound):
        run(on_sale, cart.update_item, ALICE, "sku-80c-nude", 1)
    with pytest.raises(NotFound):  # Bob cannot touch Alice's line
        run(on_sale, cart.update_item, BOB, "sku-75b-black", 1)
    with pytest.raises(InvalidArgument) as err:
        run(on_sale, cart.update_item, ALICE, "sku-75b-black", 0)
    assert "RemoveCartItem" in err.value.violations[0].description


def test_an_unpublished_line_may_be_lowered_but_not_raised(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 3)
    with on_sale.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(
            catalog_product(version=2, status="unpublished")))
    assert run(on_sale, cart.update_item, ALICE, "sku-75b-black", 1).lines[0].quantity == 1
    with pytest.raises(FailedPrecondition):
        run(on_sale, cart.update_item, ALICE, "sku-75b-black", 2)


def test_remove_is_idempotent(on_sale):
    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 2)
    run(on_sale, cart.add_item, BOB, "sku-75b-black", 2)
    assert run(on_sale, cart.remove_item, ALICE, "sku-75b-black").lines == []
    assert run(on_sale, cart.remove_item, ALICE, "sku-75b-black").lines == []
    assert len(run(on_sale, cart.get_cart, BOB).lines) == 1


def test_a_cart_holds_at_most_50_different_skus(on_sale):
    from mall.events.v1 import catalog_events_pb2 as catalog
    skus = [catalog.CatalogSku(sku_id=f"sku-{i}", size="M", price_fen=100, active=True)
            for i in range(51)]
    with on_sale.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(
            catalog_product(product_id="p-many", skus=skus)))
    for i in range(50):
        run(on_sale, cart.add_item, ALICE, f"sku-{i}", 1)
    with pytest.raises(ResourceExhausted):
        run(on_sale, cart.add_item, ALICE, "sku-50", 1)
    run(on_sale, cart.add_item, ALICE, "sku-0", 1)  # adding to an existing line still works
    with on_sale.transaction() as session:
        assert session.query(CartItem).filter_by(member_id=ALICE).count() == 50


def test_two_concurrent_adds_of_a_new_sku_both_count(on_sale):
    import threading
    barrier, errors = threading.Barrier(2), []

    def add():
        try:
            with on_sale.transaction() as session:
                barrier.wait(5)
                cart.add_item(session, ALICE, "sku-75b-black", 3)
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert [(line.sku_id, line.quantity) for line in run(on_sale, cart.get_cart, ALICE).lines] == \
        [("sku-75b-black", 6)]


def test_lines_show_logistics_latest_word_on_stock(on_sale):
    from datetime import datetime, timedelta, timezone

    from mall.events.v1 import logistics_events_pb2 as logistics

    from services.order import availability

    run(on_sale, cart.add_item, ALICE, "sku-75b-black", 1)
    run(on_sale, cart.add_item, ALICE, "sku-80c-nude", 1)
    assert {line.stock_level for line in run(on_sale, cart.get_cart, ALICE).lines} == {"unknown"}
    now = datetime.now(timezone.utc)
    with on_sale.transaction() as session:
        availability.apply(session, [logistics.SkuAvailability(sku_id="sku-75b-black", sellable=2,
                                                               level=logistics.LOW)], now)
        availability.apply(session, [logistics.SkuAvailability(sku_id="sku-80c-nude", sellable=0,
                                                               level=logistics.OUT)], now)
        # An older event arriving late changes nothing.
        assert availability.apply(session, [logistics.SkuAvailability(
            sku_id="sku-75b-black", sellable=50, level=logistics.IN_STOCK)],
            now - timedelta(minutes=1)) == 0
    levels = {line.sku_id: line.stock_level for line in run(on_sale, cart.get_cart, ALICE).lines}
    assert levels == {"sku-75b-black": "low", "sku-80c-nude": "out"}
