"""Logistics over gRPC, through the real server and its interceptors."""
import grpc
import pytest
from mall.events.v1 import logistics_events_pb2 as events
from mall.logistics.v1 import logistics_pb2 as pb
from mall.logistics.v1 import logistics_pb2_grpc as pb_grpc
from sqlalchemy import func, select

from servicekit.errors import violations_from_trailers
from services.logistics.models import LedgerEntry

CLERK = (("x-mall-user-id", "staff-li"), ("x-mall-roles", "warehouse"))
SHOPPER = (("x-mall-user-id", "member-1"),)
EAST = pb.Warehouse(code="SH-EAST", name="华东仓", province="上海市", city="上海市",
                    district="青浦区", latitude=31.1497, longitude=121.1246, active=True,
                    priority=100)


@pytest.fixture
def stub(stocked, grpc_stub_for):
    return grpc_stub_for("logistics", pb_grpc.LogisticsServiceStub)


def violations(err):
    return [(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())]


def test_receive_adjust_and_read_back(stub):
    reply = stub.ReceiveStock(pb.ReceiveStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b",
                                                     quantity=9, reason="DN-7"), metadata=CLERK)
    assert (reply.stock.on_hand, reply.stock.sellable, reply.stock.level) == (9, 9, events.IN_STOCK)
    assert (reply.entry.kind, reply.entry.actor_user_id, reply.entry.reason) == (
        pb.RECEIPT, "staff-li", "DN-7")
    stub.AdjustStock(pb.AdjustStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b",
                                           kind=pb.DAMAGE, delta=-5, reason="破损"), metadata=CLERK)
    got = stub.GetStock(pb.GetStockRequest(sku_ids=["sku-75b", "sku-80b"]), metadata=CLERK)
    assert [(s.sku_id, [(w.warehouse_code, w.on_hand, w.level) for w in s.warehouses])
            for s in got.skus] == [("sku-75b", [("SH-EAST", 4, events.LOW)]), ("sku-80b", [])]
    available = stub.GetAvailability(pb.GetAvailabilityRequest(sku_ids=["sku-75b"]),
                                     metadata=SHOPPER)  # public figures: any caller
    assert [(a.sku_id, a.sellable, a.level) for a in available.skus] == [("sku-75b", 4, events.LOW)]
    ledger = stub.ListLedger(pb.ListLedgerRequest(sku_id="sku-75b"), metadata=CLERK)
    assert [(e.kind, e.quantity, e.on_hand_after) for e in ledger.entries] == [
        (pb.DAMAGE, -5, 4), (pb.RECEIPT, 9, 9)]


def test_only_warehouse_staff_and_admins_change_stock(stub):
    request = pb.ReceiveStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b", quantity=1)
    with pytest.raises(grpc.RpcError) as err:
        stub.ReceiveStock(request, metadata=SHOPPER)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        stub.ReceiveStock(request)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_input_is_named_and_writes_nothing(stub, stocked):
    with pytest.raises(grpc.RpcError) as err:
        stub.ReceiveStock(pb.ReceiveStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b",
                                                 quantity=0), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("quantity", "whole_units")]
    with pytest.raises(grpc.RpcError) as err:
        stub.ReceiveStock(pb.ReceiveStockRequest(warehouse_code="SH-EAST", sku_id="sku-nope",
                                                 quantity=1), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and violations(err) == [("sku_id", "exists")]
    with pytest.raises(grpc.RpcError) as err:
        stub.AdjustStock(pb.AdjustStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b",
                                               kind=pb.COUNT_CORRECTION, delta=-1, reason="盘点"),
                         metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations(err) == [("delta", "not_below_zero")]
    no_province = pb.Warehouse(code="HZ-1", name="杭州仓", city="杭州市")
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=no_province), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("warehouse.province", "required")]
    with stocked.transaction() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert session.execute(select(func.count()).select_from(stocked.outbox_table)).scalar() == 0
    codes = [w.code for w in stub.ListWarehouses(pb.ListWarehousesRequest(), metadata=CLERK).warehouses]
    assert codes == ["SH-EAST", "GZ-SOUTH"]


def test_an_idempotency_key_makes_a_retried_receipt_harmless(stub):
    request = pb.ReceiveStockRequest(warehouse_code="GZ-SOUTH", sku_id="sku-80b", quantity=4)
    keyed = (*CLERK, ("idempotency-key", "pda-scan-0001"))
    first = stub.ReceiveStock(request, metadata=keyed)
    again = stub.ReceiveStock(request, metadata=keyed)
    assert (first.replayed, again.replayed, again.entry.id) == (False, True, first.entry.id)
    assert again.stock.on_hand == 4


def test_create_warehouse_twice_is_already_exists(stub):
    north = stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=pb.Warehouse(
        code="BJ-NORTH", name="华北仓", province="北京市", city="北京市", latitude=39.7,
        longitude=116.3)), metadata=CLERK)
    assert north.active  # unset means active
    spare = stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=pb.Warehouse(
        code="BJ-SPARE", name="备用仓", province="北京市", city="北京市", active=False)),
        metadata=CLERK)
    assert spare.HasField("active") and not spare.active
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=EAST), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_reserve_commit_and_release_over_grpc(stub):
    from mall.common.v1 import common_pb2

    for code in ("SH-EAST", "GZ-SOUTH"):
        stub.ReceiveStock(pb.ReceiveStockRequest(warehouse_code=code, sku_id="sku-75b",
                                                 quantity=2), metadata=CLERK)
    address = common_pb2.Address(recipient="张三", phone="13800000000", province="广东省",
                                 city="深圳市", detail="科技园 1 号")
    request = pb.ReserveRequest(order_id="o-1", lines=[pb.ReserveLine(sku_id="sku-75b",
                                                                     quantity=3)],
                                shipping_address=address, hold_seconds=600)
    held = stub.Reserve(request)  # internal: no role asked
    assert held.status == pb.HELD
    assert [(a.warehouse_code, a.quantity) for a in held.allocations] == [("GZ-SOUTH", 2),
                                                                         ("SH-EAST", 1)]
    assert stub.Reserve(request).allocations == held.allocations  # a retry: the same
    assert stub.Commit(pb.CommitRequest(order_id="o-1")).status == pb.COMMITTED
    assert stub.GetReservation(pb.GetReservationRequest(order_id="o-1")).status == pb.COMMITTED
    with pytest.raises(grpc.RpcError) as err:
        stub.Release(pb.ReleaseRequest(order_id="o-1", reason="member"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    request.order_id = "o-2"
    with pytest.raises(grpc.RpcError) as err:
        stub.Reserve(request)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violations(err) == [("lines[0].quantity", "in_stock")]
    request.shipping_address.province = ""
    with pytest.raises(grpc.RpcError) as err:
        stub.Reserve(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("shipping_address.province", "required")]


def test_every_kind_the_ledger_stores_has_a_contract_value():
    # ListLedger answered INTERNAL for a SKU that was ever reserved: the contract lacked its kinds.
    from services.logistics.api import KINDS
    from services.logistics.models import LEDGER_KINDS
    assert set(KINDS.values()) == set(LEDGER_KINDS)
