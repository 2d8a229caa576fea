"""member.deleted in support: her notices deleted once, another member's kept, and a notice an
event brings about her later is not written. Her export over gRPC, for herself (or an admin)."""
import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.support.v1 import support_pb2_grpc
from sqlalchemy import func, select

from servicekit.testing import deliver_in_process
from services.support import inbox
from services.support.models import Notification

ALICE = (("x-mall-user-id", "m-1"),)
ADMIN = (("x-mall-user-id", "s-1"), ("x-mall-roles", "admin"))
CS_AGENT = (("x-mall-user-id", "s-2"), ("x-mall-roles", "cs_agent"))


def seed(runtime):
    with runtime.transaction() as session:
        for member_id in ("m-1", "m-2"):
            for i in range(2):
                inbox.notify(session, member_id=member_id, kind="order_paid", order_id=f"o-{i}",
                             title="支付成功", body=f"订单 N{i} 已支付")


def notices(runtime):
    with runtime.transaction() as session:
        return dict(session.execute(select(Notification.member_id, func.count())
                                    .group_by(Notification.member_id)).all())


def test_her_notices_go_once_and_late_ones_are_not_written(runtime):
    seed(runtime)
    deleted = member_events.MemberDeleted(member_id="m-1", deleted_at="2026-12-04T21:00:00Z")
    envelope = deliver_in_process("support", "member", "member.deleted", deleted)
    assert notices(runtime) == {"m-2": 2}
    deliver_in_process("support", "member", "member.deleted", deleted, event_id=envelope["id"])
    deliver_in_process("support", "member", "member.deleted", deleted)
    assert notices(runtime) == {"m-2": 2}
    # her order's refund, heard after the erasure (reordered events): nobody to tell
    deliver_in_process("support", "order", "order.cancelled", order_events.OrderCancelled(
        order_id="o-late", member_id="m-1", order_no="N9", reason="staff"))
    assert notices(runtime) == {"m-2": 2}


def test_the_export_holds_her_notices_for_her_only(runtime, grpc_stub_for):
    seed(runtime)
    stub = grpc_stub_for("support", support_pb2_grpc.NotificationServiceStub)
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    exported = stub.ExportMemberData(request, metadata=ALICE)
    assert [(n.order_id, n.body) for n in exported.notifications] == [
        ("o-0", "订单 N0 已支付"), ("o-1", "订单 N1 已支付")]
    assert stub.ExportMemberData(request, metadata=ADMIN) == exported
    for caller in (CS_AGENT, (("x-mall-user-id", "m-2"),)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ExportMemberData(request, metadata=caller)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
