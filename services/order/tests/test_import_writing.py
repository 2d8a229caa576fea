"""An import job's write side on PostgreSQL: batches written on the writer's thread, the
order.imported events exactly as protobuf's JSON would be, a batch that fails failing the job
(what was written stays, a re-upload adds only the rest), two jobs of one file at once."""
from __future__ import annotations

import threading

import pytest
from google.protobuf import json_format
from mall.events.v1 import order_events_pb2
from sqlalchemy import func, select

from servicekit.testing import outbox_events

from ..importing import jobs, store, writer
from ..models import ImportedOrder, ImportJob, ImportRow, Order, OrderLine
from .import_helpers import accepted, csv_bytes, line, seed_skus


@pytest.fixture
def shop(runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("MALL_ORDER_IMPORT_SPOOL_DIR", str(tmp_path))
    seed_skus(runtime)
    # small batches, so a handful of orders crosses several hand-overs between the threads
    monkeypatch.setattr(writer, "ORDER_BATCH", 2)
    monkeypatch.setattr(writer, "ROW_BATCH", 3)
    return runtime


def orders_file(count: int, bad: tuple[int, ...] = ()) -> list[dict]:
    """`count` orders of two lines each; the orders numbered in `bad` have a quantity "二"."""
    lines = []
    for n in range(count):
        lines.append(line(f"W-{n:03d}", sku="BRA-75B-BLK", qty="二" if n in bad else "1"))
        lines.append(line(f"W-{n:03d}", sku="BRF-M-NUDE", qty="2", price="99.00"))
    return lines


def count(runtime, model) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_orders_cross_many_batches_and_every_row_has_its_outcome(shop):
    job, path = accepted(shop, csv_bytes(orders_file(7, bad=(3,))))
    done = jobs.run(shop, job.id, path)
    assert (done.status, done.orders_imported, done.orders_invalid) == ("done", 6, 1)
    assert (done.rows_imported, done.rows_error, done.rows_blocked) == (12, 1, 1)
    assert count(shop, Order) == 6 and count(shop, OrderLine) == 12
    with shop.transaction() as session:
        outcomes = dict(session.execute(select(ImportRow.row_no, ImportRow.status)
                                        .where(ImportRow.job_id == job.id)).all())
    assert sorted(outcomes) == list(range(2, 16))  # every row of the file, once
    assert (outcomes[8], outcomes[9]) == ("error", "blocked")


def imported_orders(runtime) -> list[dict]:
    """Every order of the order.imported_batch events in the outbox."""
    return [order for event in outbox_events(runtime, "order.imported_batch")
            for order in event["data"]["orders"]]


def test_each_batch_is_one_event_whose_data_is_exactly_protobufs_json(shop):
    job, path = accepted(shop, csv_bytes(orders_file(5)))  # batches of 2 orders here: 2 + 2 + 1
    jobs.run(shop, job.id, path)
    events = outbox_events(shop, "order.imported_batch")
    assert sorted(len(e["data"]["orders"]) for e in events) == [1, 2, 2]
    assert outbox_events(shop, "order.imported") == []  # not one event per order any more
    for event in events:
        # strict: a misspelt field would fail here instead of being dropped by consumers
        message = json_format.ParseDict(event["data"], order_events_pb2.OrdersImported())
        assert event["data"] == json_format.MessageToDict(
            message, always_print_fields_with_no_presence=True)
        assert (message.batch_id, message.partner) == (job.id, "acme")
        for order in message.orders:
            assert (order.partner, order.batch_id, len(order.lines)) == ("acme", job.id, 2)
            assert [ln.quantity for ln in order.lines] == [1, 2]
            assert order.payable_fen == 199_00 + 2 * 99_00
    assert sorted(o["externalId"] for o in imported_orders(shop)) == [f"W-{n:03d}" for n in range(5)]


def test_a_batch_that_fails_fails_the_job_and_a_re_upload_adds_only_the_rest(shop, monkeypatch):
    data = csv_bytes(orders_file(6))
    real_write, calls = store.write_orders, []

    def second_batch_fails(session, *args, **kwargs):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_write(session, *args, **kwargs)

    monkeypatch.setattr(store, "write_orders", second_batch_fails)
    job, path = accepted(shop, data)
    runner = jobs.Runner(shop, workers=1)
    runner.submit(job.id, path)
    runner.pool.shutdown(wait=True)
    with shop.transaction() as session:
        failed = session.get(ImportJob, job.id)
        assert (failed.status, failed.problem_rule) == ("failed", "internal")
    assert all(name.startswith("order-import-write") for name in calls)
    # the batches in flight beside the failed one may have gone on; none was started after
    assert len(calls) in (2, 3)
    written = 2 * (len(calls) - 1)  # every batch but the failed one, whole
    assert count(shop, Order) == written and count(shop, ImportedOrder) == written
    assert not path.exists()

    monkeypatch.setattr(store, "write_orders", real_write)
    again, path = accepted(shop, data, name="again.csv")
    done = jobs.run(shop, again.id, path)
    assert (done.orders_imported, done.orders_skipped) == (6 - written, written)
    assert count(shop, Order) == 6 and count(shop, OrderLine) == 12


def test_two_jobs_of_one_file_at_once_import_each_order_exactly_once(shop):
    data = csv_bytes(orders_file(20))
    first, first_path = accepted(shop, data, name="first.csv")
    second, second_path = accepted(shop, data, name="second.csv")
    finished = {}
    threads = [threading.Thread(target=lambda j=j, p=p: finished.setdefault(j.id, jobs.run(shop, j.id, p)))
               for j, p in ((first, first_path), (second, second_path))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = finished[first.id], finished[second.id]
    assert a.orders_imported + b.orders_imported == 20
    assert a.orders_imported + a.orders_skipped == 20 and b.orders_imported + b.orders_skipped == 20
    assert a.rows_imported + b.rows_imported == 40
    assert count(shop, Order) == 20 and count(shop, OrderLine) == 40
    assert len(imported_orders(shop)) == 20  # each order in one event, once
    with shop.transaction() as session:  # each row names its order, whichever job wrote it
        outcomes = session.execute(select(ImportRow.job_id, ImportRow.external_id,
                                          ImportRow.order_no)).all()
    assert len(outcomes) == 80 and all(order_no for _, _, order_no in outcomes)
    by_id = {}
    for _, external_id, order_no in outcomes:
        by_id.setdefault(external_id, set()).add(order_no)
    assert all(len(numbers) == 1 for numbers in by_id.values())
