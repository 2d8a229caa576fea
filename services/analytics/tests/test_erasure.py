"""member.deleted in analytics: her facts stay counted but lose her member id and personal data,
once; another member's facts untouched; a fact about her that arrives later is stored scrubbed.
Her export (how many facts name her) over gRPC, for herself (or an admin) only."""
import json

import grpc
import pytest
from mall.analytics.v1 import analytics_pb2_grpc
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import select

from servicekit.testing import deliver_in_process
from services.analytics.models import DailyEventCount, Fact

ALICE = (("x-mall-user-id", "m-1"),)
ADMIN = (("x-mall-user-id", "s-1"), ("x-mall-roles", "admin"))
ANALYST = (("x-mall-user-id", "s-2"), ("x-mall-roles", "analyst"))
PERSONAL = ("m-1", "林小姐", "13800138000", "科技园路 1 号", "南山区")


def paid(order_id, member_id):
    return order_events.OrderPaid(
        order_id=order_id, member_id=member_id, paid_fen=9900,
        shipping_address=common_pb2.Address(recipient="林小姐", phone="13800138000",
                                            province="广东省", city="深圳市", district="南山区",
                                            detail="科技园路 1 号"))


def facts(runtime):
    with runtime.transaction() as session:
        return {f.data["orderId"]: f.data for f in session.scalars(select(Fact))}


def counted(runtime):
    with runtime.transaction() as session:
        return sum(session.scalars(select(DailyEventCount.count)))


def consented_to_analytics(member_id):
    """Facts keep a member id only with her consent (tracking_consent.py): both members gave it."""
    deliver_in_process("analytics", "member", "member.consent_changed", member_events.ConsentChanged(
        member_id=member_id, purpose="analytics", granted=True, version=1,
        changed_at="2026-12-01T08:00:00Z"))


def test_her_facts_lose_her_once_and_late_ones_are_stored_without_her(runtime):
    consented_to_analytics("m-1")
    consented_to_analytics("m-2")
    deliver_in_process("analytics", "order", "order.paid", paid("o-1", "m-1"))
    deliver_in_process("analytics", "order", "order.paid", paid("o-2", "m-2"))
    deleted = member_events.MemberDeleted(member_id="m-1", deleted_at="2026-12-04T21:00:00Z")
    envelope = deliver_in_process("analytics", "member", "member.deleted", deleted)
    deliver_in_process("analytics", "member", "member.deleted", deleted, event_id=envelope["id"])
    deliver_in_process("analytics", "member", "member.deleted", deleted)
    deliver_in_process("analytics", "order", "order.paid", paid("o-3", "m-1"))  # reordered

    stored = facts(runtime)
    for order_id in ("o-1", "o-3"):
        text = json.dumps(stored[order_id], ensure_ascii=False)
        assert not [p for p in PERSONAL if p in text], text
        assert stored[order_id]["shippingAddress"] == {"province": "广东省", "city": "深圳市"}
        assert stored[order_id]["paidFen"] == "9900"
    # another member's fact is untouched (its phone, name and street never reach analytics: sealed)
    assert stored["o-2"]["memberId"] == "m-2" and stored["o-2"]["shippingAddress"]["district"]
    assert "phone" not in stored["o-2"]["shippingAddress"]
    assert counted(runtime) == 3  # the figures do not change


def test_the_export_counts_her_facts_for_her_only(runtime, grpc_stub_for):
    consented_to_analytics("m-1")
    deliver_in_process("analytics", "order", "order.paid", paid("o-1", "m-1"))
    deliver_in_process("analytics", "order", "order.paid", paid("o-2", "m-2"))
    stub = grpc_stub_for("analytics", analytics_pb2_grpc.AnalyticsServiceStub)
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    exported = stub.ExportMemberData(request, metadata=ALICE)
    assert exported.fact_count == 1
    assert [(c.type, c.source, c.count) for c in exported.by_type] == [("order.paid", "order", 1)]
    assert stub.ExportMemberData(request, metadata=ADMIN) == exported
    for caller in (ANALYST, (("x-mall-user-id", "m-2"),)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ExportMemberData(request, metadata=caller)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
