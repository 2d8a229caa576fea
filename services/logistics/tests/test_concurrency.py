"""Concurrent stock changes of one SKU are serialized on the SKU row: every announcement is a
consistent sum, and announcements are in the order of the changes."""
import threading

from services.logistics import stock

from .test_stock import CLERK, ledger, outbox


def test_concurrent_receipts_announce_every_sum_in_order(stocked):
    errors = []

    def receive(code):
        try:
            for _ in range(20):
                with stocked.transaction() as session:
                    stock.receive_stock(stocked, session, code, "sku-75b", 1, caller=CLERK)
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=receive, args=(code,)) for code in ("SH-EAST", "GZ-SOUTH")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [event[0][1] for event in outbox(stocked)] == list(range(1, 41))
    assert len(ledger(stocked)) == 40


def _reserve_all(runtime, jobs, threads=16):
    """Runs reserve(order_id, lines) jobs on `threads` threads; returns (held, refused, errors)."""
    from concurrent.futures import ThreadPoolExecutor

    from servicekit.errors import ResourceExhausted
    from services.logistics import reservations

    saga = stock.Caller("order-saga", "r")

    def one(job):
        order_id, lines = job
        try:
            with runtime.transaction() as session:
                reservations.reserve(runtime, session, order_id,
                                     [reservations.Line(s, q) for s, q in lines], "浙江省",
                                     caller=saga)
            return "held"
        except ResourceExhausted:
            return "refused"

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(one, jobs))
    return outcomes.count("held"), outcomes.count("refused")


def test_many_concurrent_reservations_never_take_more_than_is_sellable(stocked):
    from services.logistics.models import Stock
    with stocked.transaction() as session:
        stock.receive_stock(stocked, session, "SH-EAST", "sku-75b", 13, caller=CLERK)
        stock.receive_stock(stocked, session, "GZ-SOUTH", "sku-75b", 10, caller=CLERK)
        stock.set_stock_policy(stocked, session, "GZ-SOUTH", "sku-75b", 3, 0)  # 20 sellable
    held, refused = _reserve_all(stocked, [(f"o-{i}", [("sku-75b", 1)]) for i in range(120)])
    assert (held, refused) == (20, 100)
    with stocked.transaction() as session:
        rows = {s.warehouse.code: (s.on_hand, s.reserved) for s in session.query(Stock)}
    assert rows == {"SH-EAST": (13, 13), "GZ-SOUTH": (10, 7)}
    assert len([e for e in ledger(stocked) if e[2] == "reservation"]) == 20


def test_orders_locking_the_same_skus_in_any_order_do_not_deadlock(stocked):
    with stocked.transaction() as session:
        for sku in ("sku-75b", "sku-80b"):
            stock.receive_stock(stocked, session, "SH-EAST", sku, 40, caller=CLERK)
    jobs = [(f"o-{i}", [("sku-75b", 1), ("sku-80b", 1)] if i % 2 else
             [("sku-80b", 1), ("sku-75b", 1)]) for i in range(60)]
    assert _reserve_all(stocked, jobs) == (40, 20)
