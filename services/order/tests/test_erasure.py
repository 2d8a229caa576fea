"""member.deleted in order: her orders kept for the accounts with the address anonymised, her
note and the staff remarks on them erased, her cart emptied; exactly once, another member's
orders untouched; and her export over gRPC, for herself (or an admin) only."""
from datetime import datetime, timezone

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from mall.order.v1 import order_pb2, order_pb2_grpc
from sqlalchemy import select

from servicekit import erasure as kit_erasure
from servicekit.testing import deliver_in_process, outbox_events
from services.order import privacy
from services.order.erasure import ERASED_REMARK
from services.order.models import CartItem, Order, OrderRemark

from .orders_helpers import ADDRESS, place

ALICE = (("x-mall-user-id", "m-1"),)
ADMIN = (("x-mall-user-id", "s-1"), ("x-mall-roles", "admin"))
OPERATOR = (("x-mall-user-id", "s-2"), ("x-mall-roles", "operator"))


def cart_line(session, member_id, sku_id="sku-75b-black"):
    now = datetime.now(timezone.utc)
    session.add(CartItem(member_id=member_id, sku_id=sku_id, quantity=1, added_at=now, updated_at=now))


def seed(runtime):
    mine, theirs = place(runtime, "m-1", key="k-1"), place(runtime, "m-2", key="k-2")
    with runtime.transaction() as session:
        session.get(Order, mine).shopper_note = "到了打 13800138000"
        session.add(OrderRemark(order_id=mine, staff_id="s-1", text="林小姐来电，改地址到科技园路 1 号",
                                at=datetime.now(timezone.utc)))
        cart_line(session, "m-1")
        cart_line(session, "m-2")
    return mine, theirs


def state(runtime, order_id):
    with runtime.transaction() as session:
        order = session.get(Order, order_id)
        remarks = list(session.scalars(select(OrderRemark.text).where(OrderRemark.order_id == order_id)))
        carts = {m: len(list(session.scalars(select(CartItem).where(CartItem.member_id == m))))
                 for m in ("m-1", "m-2")}
        return (privacy.open_address(order.id, order.address_sealed), order.shopper_note, remarks,
                carts, (order.status, order.payable_fen, order.list_total_fen))


def test_her_orders_are_anonymised_once_and_another_members_kept(runtime):
    mine, theirs = seed(runtime)
    before = state(runtime, mine)
    deleted = member_events.MemberDeleted(member_id="m-1", deleted_at="2026-12-04T21:00:00Z")
    envelope = deliver_in_process("order", "member", "member.deleted", deleted)

    address, note, remarks, carts, kept = state(runtime, mine)
    assert address == common_pb2.Address(province="广东省", city="深圳市")
    assert note == "" and remarks == [ERASED_REMARK]
    assert carts == {"m-1": 0, "m-2": 1}
    # amounts kept for the accounts; unpaid, it is cancelled (stock, coupons, points given back)
    assert kept == ("cancelled", *before[4][1:])
    assert [e["data"]["reason"] for e in outbox_events(runtime, "order.cancelled")] == ["member_deleted"]
    assert state(runtime, theirs)[0] == ADDRESS
    with runtime.transaction() as session:
        assert kit_erasure.is_erased(session, "m-1") and not kit_erasure.is_erased(session, "m-2")

    # Redelivered: the inbox stops it. Sent again under a new id: nothing left to change.
    with runtime.transaction() as session:
        cart_line(session, "m-1", "sku-late")  # would be emptied only by a second run
    deliver_in_process("order", "member", "member.deleted", deleted, event_id=envelope["id"])
    assert state(runtime, mine)[3] == {"m-1": 1, "m-2": 1}
    deliver_in_process("order", "member", "member.deleted", deleted)
    assert len(outbox_events(runtime, "order.cancelled")) == 1
    address, note, remarks, carts, _ = state(runtime, mine)
    assert (address, remarks, carts) == (common_pb2.Address(province="广东省", city="深圳市"),
                                         [ERASED_REMARK], {"m-1": 0, "m-2": 1})


@pytest.fixture
def stub(runtime, grpc_stub_for):
    return grpc_stub_for("order", order_pb2_grpc.OrderServiceStub)


def test_the_export_holds_her_orders_with_addresses_and_her_cart_for_her_only(runtime, stub):
    mine, _ = seed(runtime)
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    mine_exported = stub.ExportMemberData(request, metadata=ALICE)
    assert [o.order_id for o in mine_exported.orders] == [mine]
    assert mine_exported.orders[0].shipping_address == ADDRESS
    assert mine_exported.orders[0].note == "到了打 13800138000"
    assert stub.ExportMemberData(request, metadata=ADMIN) == mine_exported
    for caller in (OPERATOR, (("x-mall-user-id", "m-2"),)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ExportMemberData(request, metadata=caller)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as unnamed:
        stub.ExportMemberData(common_pb2.ExportMemberDataRequest(), metadata=ALICE)
    assert unnamed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(mine_exported, order_pb2.MemberOrderData)
