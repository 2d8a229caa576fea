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
