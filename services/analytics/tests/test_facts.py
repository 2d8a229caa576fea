"""Recording facts: once per event, whole, counted on the right Shanghai day."""
from datetime import date, datetime, timezone

from mall.events.v1 import order_events_pb2
from sqlalchemy import func, select

from services.analytics.facts import record_fact
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


def test_a_failed_transaction_leaves_neither_fact_nor_count(runtime):
    paid = event("order", "order.paid", PAID)
    try:
        with runtime.transaction() as session:
            record_fact(session, paid)
            raise RuntimeError("the handler failed after recording")
    except RuntimeError:
        pass
    assert facts(runtime) == 0 and rollup(runtime) == {}
    with runtime.transaction() as session:  # the redelivery then records it
        assert record_fact(session, paid) is True
    assert facts(runtime) == 1


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
