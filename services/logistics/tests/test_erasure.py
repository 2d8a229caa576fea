"""member.deleted in logistics: the recipient of her delivered shipments erased at once, of those
still on their way when they arrive; exactly once; another member's kept. Her export over gRPC,
for herself (or an admin) only."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from mall.logistics.v1 import logistics_pb2_grpc
from sqlalchemy import select

from servicekit.testing import deliver_in_process
from services.logistics import shipments, tracking
from services.logistics.models import Shipment

from .conftest import paid_order
from .test_shipments import hold, pay

ALICE = (("x-mall-user-id", "m-1"),)
ADMIN = (("x-mall-user-id", "s-1"), ("x-mall-roles", "admin"))
WAREHOUSE = (("x-mall-user-id", "s-2"), ("x-mall-roles", "warehouse"))


def ship(runtime, order_id, member_id):
    hold(runtime, order_id, [("sku-75b", 1)])
    pay(runtime, paid_order(order_id, [("sku-75b", 1)], member_id=member_id), event_id=f"e-{order_id}")


def move(runtime, order_id, state, minutes=0):
    with runtime.transaction() as session:
        shipment = session.scalar(select(Shipment).where(Shipment.order_id == order_id))
        tracking.record_step(runtime, session, shipment, state,
                             datetime.now(timezone.utc) + timedelta(minutes=minutes),
                             source="test", dedupe_key=f"{order_id}-{state}")


def recipients(runtime):
    with runtime.transaction() as session:
        return {s.order_id: shipments.recipient_of(s).get("recipient", "")
                for s in session.scalars(select(Shipment))}


def test_delivered_at_once_in_transit_on_arrival_once_and_only_hers(shelves):
    for order_id, member_id in (("o-1", "m-1"), ("o-2", "m-1"), ("o-3", "m-2")):
        ship(shelves, order_id, member_id)
    move(shelves, "o-1", "delivered")
    move(shelves, "o-2", "in_transit")
    move(shelves, "o-3", "delivered")
    deleted = member_events.MemberDeleted(member_id="m-1", deleted_at="2026-12-04T21:00:00Z")
    envelope = deliver_in_process("logistics", "member", "member.deleted", deleted)
    assert recipients(shelves) == {"o-1": "", "o-2": "李四", "o-3": "李四"}

    deliver_in_process("logistics", "member", "member.deleted", deleted, event_id=envelope["id"])
    deliver_in_process("logistics", "member", "member.deleted", deleted)  # again, later
    assert recipients(shelves) == {"o-1": "", "o-2": "李四", "o-3": "李四"}

    move(shelves, "o-2", "delivered", minutes=5)  # the parcel she paid for arrived
    assert recipients(shelves) == {"o-1": "", "o-2": "", "o-3": "李四"}
    with shelves.transaction() as session:
        kept = {s.order_id: (s.state, s.destination_province, s.destination_city)
                for s in session.scalars(select(Shipment))}
    assert kept["o-1"] == ("delivered", "广东省", "深圳市")


def test_the_export_holds_her_shipments_with_recipients_for_her_only(shelves, grpc_stub_for):
    ship(shelves, "o-1", "m-1")
    ship(shelves, "o-3", "m-2")
    stub = grpc_stub_for("logistics", logistics_pb2_grpc.LogisticsServiceStub)
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    exported = stub.ExportMemberData(request, metadata=ALICE)
    assert [s.shipment.order_id for s in exported.shipments] == ["o-1"]
    (mine,) = exported.shipments
    assert (mine.recipient.recipient, mine.recipient.phone, mine.recipient.detail,
            mine.recipient.city, mine.recipient_erased) == ("李四", "13900000000", "科技园 1 号",
                                                             "深圳市", False)
    assert stub.ExportMemberData(request, metadata=ADMIN) == exported
    for caller in (WAREHOUSE, (("x-mall-user-id", "m-2"),)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ExportMemberData(request, metadata=caller)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
