"""The analytics worker as a real process on RabbitMQ: every event becomes one fact, even when
the worker is killed mid-stream and the broker redelivers."""
import uuid

from mall.events.v1 import catalog_events_pb2, logistics_events_pb2, order_events_pb2
from sqlalchemy import func, select

from services.analytics.models import DailyEventCount, Fact


def counted(runtime) -> tuple[int, int]:
    with runtime.transaction() as session:
        return (session.scalar(select(func.count()).select_from(Fact)),
                session.scalar(select(func.coalesce(func.sum(DailyEventCount.count), 0))))


def test_each_subscribed_event_becomes_one_fact(runtime, worker_process, publish_event,
                                                wait_until):
    worker_process("analytics")
    product = catalog_events_pb2.CatalogProduct(product_id="p-1", title="无钢圈文胸",
                                                status="published", version=1)
    sent = [
        publish_event("catalog", "product.published", catalog_events_pb2.ProductPublished(product=product)),
        publish_event("catalog", "product.updated", catalog_events_pb2.ProductUpdated(product=product)),
        publish_event("catalog", "product.unpublished", catalog_events_pb2.ProductUnpublished(product=product)),
        publish_event("order", "order.paid", order_events_pb2.OrderPaid(order_id="o-1", paid_fen=100)),
        publish_event("order", "order.imported", order_events_pb2.OrderImported(
            order_id="io-1", channel="import:tmall", batch_id="b-1", payable_fen=100)),
        publish_event("logistics", "inventory.availability_changed",
                      logistics_events_pb2.AvailabilityChanged(skus=[
                          logistics_events_pb2.SkuAvailability(sku_id="s-1", sellable=3)])),
        # a producer newer than this consumer: the unknown field does no harm
        publish_event("order", "order.paid", {"orderId": "o-2", "paidFen": "200",
                                              "giftWrap": True}),
    ]
    # the same event published again (a relay that crashed before marking it sent)
    publish_event("order", "order.paid", sent[3]["data"], event_id=sent[3]["id"])
    publish_event("order", "order.imported", sent[4]["data"], event_id=sent[4]["id"])
    wait_until(lambda: counted(runtime) == (7, 7), timeout=20, message="seven facts")
    with runtime.transaction() as session:
        stored = {f.event_id: f.event_type for f in session.scalars(select(Fact))}
    assert stored == {e["id"]: e["type"] for e in sent}


def test_killing_the_worker_mid_stream_loses_nothing_and_doubles_nothing(
        runtime, worker_process, publish_event, wait_until):
    first = worker_process("analytics")
    ids = [str(uuid.uuid4()) for _ in range(200)]
    for i, event_id in enumerate(ids[:100]):
        publish_event("order", "order.paid", order_events_pb2.OrderPaid(order_id=f"o-{i}"),
                      event_id=event_id)
    wait_until(lambda: counted(runtime)[0] > 0, timeout=20, message="a first fact")
    first.kill()  # SIGKILL while (most likely) consuming: unacked messages go back to the queue
    for i, event_id in enumerate(ids[100:], start=100):
        publish_event("order", "order.paid", order_events_pb2.OrderPaid(order_id=f"o-{i}"),
                      event_id=event_id)
    for event_id in ids[:10]:  # and a few duplicates on top
        publish_event("order", "order.paid", order_events_pb2.OrderPaid(order_id="dup"),
                      event_id=event_id)
    worker_process("analytics")
    wait_until(lambda: counted(runtime) == (200, 200), timeout=60, message="200 facts")
    with runtime.transaction() as session:
        assert set(session.scalars(select(Fact.event_id))) == set(ids)


def test_an_imported_batch_becomes_one_order_imported_fact_per_order_once(
        runtime, worker_process, publish_event, wait_until):
    import time

    worker_process("analytics")
    orders = [order_events_pb2.OrderImported(order_id=f"io-{i}", channel="import:jd", partner="jd",
                                             batch_id="b-9", payable_fen=100 * i, status="paid")
              for i in range(1, 4)]
    sent = publish_event("order", "order.imported_batch",
                         order_events_pb2.OrdersImported(batch_id="b-9", partner="jd",
                                                         orders=orders))
    publish_event("order", "order.imported_batch", sent["data"], event_id=sent["id"])  # again
    wait_until(lambda: counted(runtime) == (3, 3), timeout=20, message="three facts")
    time.sleep(1)  # give a wrongly applied redelivery its chance
    assert counted(runtime) == (3, 3)
    with runtime.transaction() as session:
        stored = {f.data["orderId"]: (f.event_type, f.source, f.data)
                  for f in session.scalars(select(Fact))}
        rollup = {r.event_type: r.count for r in session.scalars(select(DailyEventCount))}
    assert stored == {o["orderId"]: ("order.imported", "order", o) for o in sent["data"]["orders"]}
    assert rollup == {"order.imported": 3}
