"""Recording facts: once per event, whole, counted on the right Shanghai day."""
import json
from datetime import date, datetime, timezone

import pytest
from google.protobuf import json_format
from mall.common.v1 import common_pb2
from mall.events.v1 import order_events_pb2
from sqlalchemy import func, select

from services.analytics.facts import imported_order_fact_id, record_fact, record_imported_orders
from services.analytics.models import DailyEventCount, Fact

from .helpers import event

PAID = order_events_pb2.OrderPaid(order_id="o-1", order_no="20261123000001", member_id="m-1",
                                  paid_fen=25900)


def facts(runtime):
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(Fact))


def rollup(runtime):
    with runtime.transaction() as session:
        return {(r.day, r.event_type): r.count for r in session.scalars(select(DailyEventCount))}


def test_the_same_event_delivered_twice_is_stored_and_counted_once(runtime):
    paid = event("order", "order.paid", PAID, event_id="11111111-1111-1111-1111-111111111111",
                 occurred_at=datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc))
    with runtime.transaction() as session:
        assert record_fact(session, paid) is True
    with runtime.transaction() as session:
        assert record_fact(session, paid) is False
    assert facts(runtime) == 1
    assert rollup(runtime) == {(date(2026, 11, 23), "order.paid"): 1}


def test_the_fact_keeps_the_data_as_published_and_unknown_fields_do_no_harm(runtime):
    data = {"orderId": "o-2", "paidFen": "9900", "aFieldFromTheFuture": {"x": 1}}
    paid = event("order", "order.paid", data, message_type=order_events_pb2.OrderPaid)
    assert paid.data.paid_fen == 9900  # parsed, the unknown field ignored
    with runtime.transaction() as session:
        record_fact(session, paid)
    with runtime.transaction() as session:
        fact = session.get(Fact, paid.id)
    assert fact.event_type == "order.paid" and fact.source == "order"
    assert fact.data == data


def test_rollup_counts_per_shanghai_day_and_type(runtime):
    # 15:59:59 UTC is 23:59:59 in Shanghai; one second later it is the next day there.
    times = [datetime(2026, 11, 22, 15, 59, 59, tzinfo=timezone.utc),
             datetime(2026, 11, 22, 16, 0, 0, tzinfo=timezone.utc),
             datetime(2026, 11, 23, 1, 0, 0, tzinfo=timezone.utc)]
    with runtime.transaction() as session:
        for at in times:
            record_fact(session, event("order", "order.paid", PAID, occurred_at=at))
        record_fact(session, event("catalog", "product.published", {"product": {}},
                                   occurred_at=times[2]))
    assert rollup(runtime) == {(date(2026, 11, 22), "order.paid"): 1,
                               (date(2026, 11, 23), "order.paid"): 2,
                               (date(2026, 11, 23), "product.published"): 1}
    assert facts(runtime) == 4


@pytest.mark.parametrize("record,made,stored", [
    (record_fact, lambda: event("order", "order.paid", PAID), 1),
    (record_imported_orders, lambda: event("order", "order.imported_batch",
                                           imported_batch("io-1", "io-2"),
                                           message_type=order_events_pb2.OrdersImported), 2),
], ids=["one event", "a batch"])
def test_a_failed_transaction_leaves_neither_fact_nor_count(runtime, record, made, stored):
    recorded = made()
    try:
        with runtime.transaction() as session:
            record(session, recorded)
            raise RuntimeError("the handler failed after recording")
    except RuntimeError:
        pass
    assert facts(runtime) == 0 and rollup(runtime) == {}
    with runtime.transaction() as session:  # the redelivery then records it
        record(session, recorded)
    assert facts(runtime) == stored


def test_an_imported_order_is_a_fact_under_its_channel_once(runtime):
    data = order_events_pb2.OrderImported(order_id="io-1", channel="import:tmall", batch_id="b-7",
                                          payable_fen=12_300, status="completed")
    imported = event("order", "order.imported", data,
                     event_id="22222222-2222-2222-2222-222222222222",
                     occurred_at=datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc))
    with runtime.transaction() as session:
        assert record_fact(session, imported) is True
        assert record_fact(session, imported) is False
    assert rollup(runtime) == {(date(2026, 11, 23), "order.imported"): 1}
    with runtime.transaction() as session:
        stored = session.scalar(select(Fact.data))
    assert (stored["channel"], stored["batchId"]) == ("import:tmall", "b-7")


def imported_batch(*order_ids, batch_id="b-8"):
    """order.imported_batch's data as the order service publishes it (every field, JSON names)."""
    return order_events_pb2.OrdersImported(batch_id=batch_id, partner="tmall", orders=[
        order_events_pb2.OrderImported(order_id=order_id, order_no=f"NO-{order_id}",
                                       channel="import:tmall", partner="tmall", batch_id=batch_id,
                                       payable_fen=10_000 + i, status="completed",
                                       lines=[order_events_pb2.OrderEventLine(sku_id="s-1",
                                                                              quantity=1)])
        for i, order_id in enumerate(order_ids)])


def test_a_batch_of_imported_orders_is_one_order_imported_fact_per_order_once(runtime):
    batch = event("order", "order.imported_batch", imported_batch("io-1", "io-2", "io-3"),
                  event_id="33333333-3333-3333-3333-333333333333",
                  occurred_at=datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc),
                  message_type=order_events_pb2.OrdersImported)
    with runtime.transaction() as session:
        assert record_imported_orders(session, batch) == 3
    with runtime.transaction() as session:  # the same batch again: nothing new
        assert record_imported_orders(session, batch) == 0
    assert facts(runtime) == 3
    assert rollup(runtime) == {(date(2026, 11, 23), "order.imported"): 3}
    with runtime.transaction() as session:
        stored = {f.data["orderId"]: f for f in session.scalars(select(Fact))}
    published = {o["orderId"]: o for o in batch.raw["data"]["orders"]}
    assert set(stored) == {"io-1", "io-2", "io-3"}
    for order_id, fact in stored.items():
        assert (fact.event_type, fact.source) == ("order.imported", "order")
        assert fact.occurred_at == datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
        assert fact.data == published[order_id]  # the order exactly as published
        assert fact.data["payableFen"] == published[order_id]["payableFen"]  # int64 as a string
        assert fact.event_id == imported_order_fact_id(batch.id, order_id)
        assert len(fact.event_id) == 36
    assert len({f.event_id for f in stored.values()}) == 3


def test_a_batch_and_a_single_import_count_alike_and_only_new_orders_count(runtime):
    at = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
    single = event("order", "order.imported", imported_batch("io-0").orders[0], occurred_at=at)
    first = event("order", "order.imported_batch", imported_batch("io-1", "io-2"),
                  occurred_at=at, message_type=order_events_pb2.OrdersImported)
    with runtime.transaction() as session:
        assert record_fact(session, single) is True
        assert record_imported_orders(session, first) == 2
    # A batch event whose orders are partly stored already (the same event id) counts the rest.
    grown = event("order", "order.imported_batch", imported_batch("io-1", "io-2", "io-9"),
                  event_id=first.id, occurred_at=at, message_type=order_events_pb2.OrdersImported)
    with runtime.transaction() as session:
        assert record_imported_orders(session, grown) == 1
    assert rollup(runtime) == {(date(2026, 11, 23), "order.imported"): 4}
    assert facts(runtime) == 4
    empty = event("order", "order.imported_batch", order_events_pb2.OrdersImported(batch_id="b-0"),
                  message_type=order_events_pb2.OrdersImported)
    with runtime.transaction() as session:
        assert record_imported_orders(session, empty) == 0
    assert facts(runtime) == 4


def test_fact_ids_of_a_batch_are_stable_and_fit_even_for_an_event_id_that_is_not_a_uuid():
    uuid_id = "44444444-4444-4444-4444-444444444444"
    assert imported_order_fact_id(uuid_id, "io-1") == imported_order_fact_id(uuid_id, "io-1")
    assert imported_order_fact_id(uuid_id, "io-1") != imported_order_fact_id(uuid_id, "io-2")
    other = imported_order_fact_id("relay-7:batch-12", "io-1")
    assert len(other) == 36 and other == imported_order_fact_id("relay-7:batch-12", "io-1")
    assert other != imported_order_fact_id("relay-7:batch-13", "io-1")
    assert other != imported_order_fact_id(uuid_id, "io-1")


def test_a_fact_never_holds_personal_fields_sealed_or_sent_in_clear(runtime):
    """Analytics holds no events key: an address's recipient, phone and street are not stored,
    whether order sealed them or an older producer sent them in clear; the region stays."""
    address = common_pb2.Address(recipient="欧阳蔚岚", phone="13987650123", province="浙江省",
                                 city="杭州市", district="西湖区", detail="梧桐巷8837号")
    sealed = event("order", "order.paid", order_events_pb2.OrderPaid(
        order_id="o-3", shipping_address=address), message_type=order_events_pb2.OrderPaid)
    clear = event("order", "order.paid", {"orderId": "o-4", "shippingAddress": json_format.MessageToDict(
        address)}, message_type=order_events_pb2.OrderPaid)
    with runtime.transaction() as session:
        record_fact(session, sealed)
        record_fact(session, clear)
    with runtime.transaction() as session:
        stored = [session.get(Fact, e.id).data for e in (sealed, clear)]
    for data in stored:
        assert {k: v for k, v in data["shippingAddress"].items() if v} == {
            "province": "浙江省", "city": "杭州市", "district": "西湖区"}
        assert "13987650123" not in json.dumps(data)
