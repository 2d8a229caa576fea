"""Stock changes on the real database: ledger always written, never below zero, availability
announced in the same transaction (the outbox row commits or rolls back with the change)."""
import json

import pytest
from mall.events.v1 import logistics_events_pb2 as events
from sqlalchemy import func, select

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.logistics import stock
from services.logistics.models import LedgerEntry, Stock
from services.logistics.warehouses import create_warehouse

from .conftest import SHANGHAI

CLERK = stock.Caller(user_id="staff-wang", request_id="req-1")


def change(runtime, fn, *args, **kwargs):
    with runtime.transaction() as session:
        return fn(runtime, session, *args, **kwargs)


def ledger(runtime):
    with runtime.transaction() as session:
        return [(e.warehouse.code, e.sku_id, e.kind, e.quantity, e.on_hand_after, e.actor_user_id,
                 e.reason) for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]


def on_hand(runtime, code, sku_id):
    with runtime.transaction() as session:
        return {s.warehouse.code: s.on_hand for s in session.scalars(
            select(Stock).where(Stock.sku_id == sku_id))}.get(code)


def outbox(runtime):
    """The announced availability, in outbox order: [(sku_id, sellable, level), ...] per event."""
    with runtime.transaction() as session:
        rows = session.execute(select(runtime.outbox_table.c.event_type, runtime.outbox_table.c.body)
                               .order_by(runtime.outbox_table.c.id)).all()
    assert {t for t, _ in rows} <= {"inventory.availability_changed"}
    return [[(s["skuId"], int(s["sellable"]), s["level"]) for s in json.loads(b)["data"]["skus"]]
            for _, b in rows]


def nothing_written(runtime):
    return ledger(runtime) == [] and outbox(runtime) == []


def test_receipt_books_the_ledger_and_announces_availability(stocked):
    result = change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 12, "到货单 DN-001",
                    caller=CLERK)
    assert (result.stocks[0].on_hand, result.stocks[0].sellable) == (12, 12)
    assert ledger(stocked) == [("SH-EAST", "sku-75b", "receipt", 12, 12, "staff-wang",
                                "到货单 DN-001")]
    assert outbox(stocked) == [[("sku-75b", 12, "IN_STOCK")]]
    change(stocked, stock.receive_stock, "GZ-SOUTH", "sku-75b", 3, caller=CLERK)
    assert outbox(stocked)[-1] == [("sku-75b", 15, "IN_STOCK")]  # summed over warehouses


@pytest.mark.parametrize("quantity", [0, -3, 1.5, "2", True, 1_000_001])
def test_a_quantity_that_is_not_a_positive_whole_number_changes_nothing(stocked, quantity):
    with pytest.raises(InvalidArgument) as err:
        change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", quantity, caller=CLERK)
    assert [(v.field, v.rule) for v in err.value.violations] == [("quantity", "whole_units")]
    assert nothing_written(stocked)


def test_unknown_warehouse_and_sku_are_both_named(stocked):
    with pytest.raises(NotFound) as err:
        change(stocked, stock.receive_stock, "XX-NOWHERE", "sku-none", 1, caller=CLERK)
    assert [(v.field, v.rule) for v in err.value.violations] == [
        ("warehouse_code", "exists"), ("sku_id", "exists")]
    with pytest.raises(InvalidArgument) as err:
        change(stocked, stock.receive_stock, "", "", 1, caller=CLERK)
    assert [v.field for v in err.value.violations] == ["warehouse_code", "sku_id"]
    assert nothing_written(stocked)


def test_a_correction_below_zero_is_refused_and_changes_nothing(stocked):
    change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 5, caller=CLERK)
    with pytest.raises(FailedPrecondition) as err:
        change(stocked, stock.adjust_stock, "SH-EAST", "sku-75b", "count_correction", -6,
               "盘点", caller=CLERK)
    assert [(v.field, v.rule) for v in err.value.violations] == [("delta", "not_below_zero")]
    with pytest.raises(FailedPrecondition):  # no stock record yet is zero on hand
        change(stocked, stock.adjust_stock, "GZ-SOUTH", "sku-75b", "damage", -1, "破损",
               caller=CLERK)
    assert on_hand(stocked, "SH-EAST", "sku-75b") == 5 and on_hand(stocked, "GZ-SOUTH", "sku-75b") is None
    assert len(ledger(stocked)) == 1 and len(outbox(stocked)) == 1


def test_corrections_and_damage_are_booked_with_their_reason(stocked):
    change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 10, caller=CLERK)
    change(stocked, stock.adjust_stock, "SH-EAST", "sku-75b", "count_correction", -5,
           "盘点差异", caller=CLERK)
    change(stocked, stock.adjust_stock, "SH-EAST", "sku-75b", "damage", -5, "水渍破损",
           caller=CLERK)
    assert [row[2:5] + (row[6],) for row in ledger(stocked)] == [
        ("receipt", 10, 10, ""), ("count_correction", -5, 5, "盘点差异"),
        ("damage", -5, 0, "水渍破损")]
    assert [e[0][2] for e in outbox(stocked)] == ["IN_STOCK", "LOW", "OUT"]


def test_adjustment_rules(stocked):
    with pytest.raises(InvalidArgument) as err:
        change(stocked, stock.adjust_stock, "SH-EAST", "sku-75b", "damage", 3, " ", caller=CLERK)
    assert [(v.field, v.rule) for v in err.value.violations] == [("delta", "negative"),
                                                                 ("reason", "required")]
    with pytest.raises(InvalidArgument) as err:
        change(stocked, stock.adjust_stock, "SH-EAST", "sku-75b", "receipt", 0, "x", caller=CLERK)
    assert [v.field for v in err.value.violations] == ["kind", "delta"]
    assert nothing_written(stocked)


def test_levels_follow_safety_stock_and_threshold(stocked):
    change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 20, caller=CLERK)
    record = change(stocked, stock.set_stock_policy, "SH-EAST", "sku-75b", 8, 12)
    assert (record.sellable, record.safety_stock, record.low_stock_threshold) == (12, 8, 12)
    change(stocked, stock.adjust_stock, "SH-EAST", "sku-75b", "count_correction", -10, "盘点",
           caller=CLERK)
    assert outbox(stocked)[1:] == [[("sku-75b", 12, "LOW")], [("sku-75b", 2, "LOW")]]
    with pytest.raises(InvalidArgument) as err:
        change(stocked, stock.set_stock_policy, "SH-EAST", "sku-75b", -1, 0)
    assert [v.field for v in err.value.violations] == ["safety_stock"]


def test_inactive_warehouses_do_not_count_towards_availability(stocked):
    with stocked.transaction() as session:
        create_warehouse(session, SHANGHAI.__class__(**{**SHANGHAI.__dict__, "code": "SH-OLD",
                                                        "active": False}))
    change(stocked, stock.receive_stock, "SH-OLD", "sku-80b", 50, caller=CLERK)
    change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 7, caller=CLERK)
    with stocked.transaction() as session:
        found = stock.get_availability(session, ["sku-80b", "sku-75b", "sku-80b"])
    assert [(a.sku_id, a.sellable, a.level) for a in found] == [
        ("sku-80b", 0, events.OUT), ("sku-75b", 7, events.IN_STOCK)]
    with stocked.transaction() as session:
        per_warehouse = dict(stock.get_stock(session, ["sku-80b"]))
    assert [(s.warehouse.code, s.on_hand) for s in per_warehouse["sku-80b"]] == [("SH-OLD", 50)]


def test_queries_name_unknown_skus(stocked):
    with pytest.raises(NotFound) as err, stocked.transaction() as session:
        stock.get_availability(session, ["sku-75b", "nope"])
    assert [v.field for v in err.value.violations] == ["sku_ids[1]"]
    with pytest.raises(InvalidArgument), stocked.transaction() as session:
        stock.get_stock(session, [])


def test_transfer_moves_unreserved_goods_in_one_transaction(stocked):
    change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 10, caller=CLERK)
    with stocked.transaction() as session:  # orders hold 4 of them (reservations come later)
        session.get(Stock, (1, "sku-75b")).reserved = 4
    with pytest.raises(FailedPrecondition) as err:
        change(stocked, stock.transfer_stock, "SH-EAST", "GZ-SOUTH", "sku-75b", 7, caller=CLERK)
    assert [v.field for v in err.value.violations] == ["quantity"]
    moved = change(stocked, stock.transfer_stock, "SH-EAST", "GZ-SOUTH", "sku-75b", 6, "补货华南",
                   caller=CLERK)
    assert [(s.warehouse.code, s.on_hand) for s in moved.stocks] == [("SH-EAST", 4),
                                                                     ("GZ-SOUTH", 6)]
    assert [r[0:5] + (r[6],) for r in ledger(stocked)[1:]] == [
        ("SH-EAST", "sku-75b", "transfer", -6, 4, "to GZ-SOUTH: 补货华南"),
        ("GZ-SOUTH", "sku-75b", "transfer", 6, 6, "from SH-EAST: 补货华南")]
    # 10 - 4 reserved wherever they are; LOW as 6 <= 5 + 5, the two warehouses' thresholds
    assert outbox(stocked)[-1] == [("sku-75b", 6, "LOW")]
    with pytest.raises(InvalidArgument) as err:
        change(stocked, stock.transfer_stock, "SH-EAST", "SH-EAST", "sku-75b", 1, caller=CLERK)
    assert [v.field for v in err.value.violations] == ["to_warehouse_code"]


def test_a_retry_with_the_same_idempotency_key_changes_nothing(stocked):
    keyed = stock.Caller("staff-wang", "req-2", idempotency_key="dn-001-line-1")
    first = change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 12, "DN-001", caller=keyed)
    again = change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 12, "DN-001", caller=keyed)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.entries[0].id == first.entries[0].id
    assert on_hand(stocked, "SH-EAST", "sku-75b") == 12
    assert len(ledger(stocked)) == 1 and len(outbox(stocked)) == 1
    with pytest.raises(FailedPrecondition) as err:  # the same key for another request
        change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 13, "DN-001", caller=keyed)
    assert [v.field for v in err.value.violations] == ["idempotency-key"]


def test_the_database_itself_refuses_negative_stock(stocked):
    change(stocked, stock.receive_stock, "SH-EAST", "sku-75b", 1, caller=CLERK)
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError), stocked.transaction() as session:
        session.get(Stock, (1, "sku-75b")).on_hand = -1
    with stocked.transaction() as session:
        assert session.scalar(select(func.min(Stock.on_hand))) == 1


def test_change_and_announcement_commit_or_roll_back_together(stocked):
    with pytest.raises(RuntimeError), stocked.transaction() as session:
        stock.receive_stock(stocked, session, "SH-EAST", "sku-75b", 3, caller=CLERK)
        assert len(outbox_rows := session.execute(select(stocked.outbox_table)).all()) == 1, \
            outbox_rows
        raise RuntimeError("the process dies before commit")
    assert nothing_written(stocked) and on_hand(stocked, "SH-EAST", "sku-75b") is None
