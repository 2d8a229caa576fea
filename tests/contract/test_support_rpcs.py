"""What support promises the gateway: the shopper's notification inbox (NotificationService)
through its real gRPC server. Support has no RPC that writes a notice: the inbox is filled the
way it is in production, by the order and coupon events its worker consumes."""
from __future__ import annotations

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import promotion_events_pb2 as promotion_events
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc as pb_grpc

from tests.contract.support_b import deliver, refused, running_worker, violations

ALICE = (("x-mall-user-id", "alice"),)
BOB = (("x-mall-user-id", "bob"),)


@pytest.fixture(scope="module")
def worker():
    with running_worker("support") as running:
        yield running


@pytest.fixture
def stub(runtime_for, worker, grpc_stub_for):
    """Alice has five notices (oldest first: order created, paid, shipped, a coupon about to
    expire, another order cancelled); Bob one."""
    support = runtime_for("support")
    for source, event_type, message in (
            ("member", "member.consent_changed", member_events.ConsentChanged(  # for the reminder
                member_id="alice", purpose="marketing", granted=True, version=1)),
            ("order", "order.created", order_events.OrderCreated(
                order_id="o-1", order_no="N-1", member_id="alice", payable_fen=19900,
                pay_deadline="2026-11-24T12:30:00Z")),
            ("order", "order.paid", order_events.OrderPaid(
                order_id="o-1", order_no="N-1", member_id="alice", paid_fen=19900)),
            ("order", "order.status_changed", order_events.OrderStatusChanged(
                order_id="o-1", order_no="N-1", member_id="alice", from_status="paid",
                to_status="shipped", summary="您的订单")),
            ("promotion", "coupon.expiring", promotion_events.CouponExpiring(
                coupon_id="c-1", member_id="alice", name="满200减30", amount_fen=3000,
                valid_until="2026-11-27T16:00:00Z")),
            ("order", "order.cancelled", order_events.OrderCancelled(
                order_id="o-2", order_no="N-2", member_id="alice", reason="timeout")),
            ("order", "order.paid", order_events.OrderPaid(
                order_id="o-9", order_no="N-9", member_id="bob", paid_fen=100))):
        deliver(support, source, event_type, message)
    return grpc_stub_for("support", pb_grpc.NotificationServiceStub)


def list_all(stub, metadata, size=2, unread_only=False):
    seen, token, unread = [], "", None
    while True:
        reply = stub.ListNotifications(pb.ListNotificationsRequest(
            page=common_pb2.PageRequest(page_size=size, page_token=token),
            unread_only=unread_only), metadata=metadata)
        seen += list(reply.notifications)
        unread = reply.unread_count
        token = reply.page.next_page_token
        if not token:
            return seen, unread


def test_list_notifications_pages_the_callers_inbox_newest_first(stub):
    alice, unread = list_all(stub, ALICE)
    assert [(n.kind, n.kind_code, n.order_id, n.coupon_id) for n in alice] == [
        (pb.ORDER_CANCELLED, "order_cancelled", "o-2", ""),
        (pb.COUPON_EXPIRING, "coupon_expiring", "", "c-1"),
        (pb.ORDER_SHIPPED, "order_shipped", "o-1", ""),
        (pb.ORDER_PAID, "order_paid", "o-1", ""),
        (pb.ORDER_CREATED, "order_created", "o-1", "")]
    assert unread == 5 and not any(n.read for n in alice)
    assert all(n.id and n.title and n.body and n.created_at.seconds for n in alice)
    assert "N-2" in alice[0].body and "199" in alice[3].body  # the order number, yuan from fen
    bob, bobs_unread = list_all(stub, BOB)
    assert [n.order_id for n in bob] == ["o-9"] and bobs_unread == 1


def test_a_page_token_is_bound_to_its_member_and_nobody_is_anonymous(stub):
    first = stub.ListNotifications(pb.ListNotificationsRequest(
        page=common_pb2.PageRequest(page_size=1)), metadata=ALICE)
    err = refused(stub.ListNotifications, pb.ListNotificationsRequest(
        page=common_pb2.PageRequest(page_token=first.page.next_page_token)), metadata=BOB)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in violations(err)} == {"page.page_token"}
    for call, request in ((stub.ListNotifications, pb.ListNotificationsRequest()),
                          (stub.MarkNotificationsRead, pb.MarkNotificationsReadRequest(all=True))):
        assert refused(call, request).code() == grpc.StatusCode.UNAUTHENTICATED


def test_mark_notifications_read_by_id_or_all_and_only_ones_own(stub):
    alice, _ = list_all(stub, ALICE)
    reply = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(
        ids=[alice[0].id, alice[1].id]), metadata=ALICE)
    assert (reply.marked_count, reply.unread_count) == (2, 3)
    again = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(ids=[alice[0].id]), metadata=ALICE)
    assert (again.marked_count, again.unread_count) == (0, 3)  # already read: nothing changes
    unread, count = list_all(stub, ALICE, unread_only=True)
    assert [n.id for n in unread] == [n.id for n in alice[2:]] and count == 3

    [bobs] = list_all(stub, BOB)[0]
    err = refused(stub.MarkNotificationsRead, pb.MarkNotificationsReadRequest(
        ids=[alice[2].id, bobs.id]), metadata=ALICE)
    assert err.code() == grpc.StatusCode.NOT_FOUND  # as if it did not exist; nothing marked
    assert list_all(stub, ALICE)[1] == 3 and list_all(stub, BOB)[1] == 1

    everything = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(all=True), metadata=ALICE)
    assert (everything.marked_count, everything.unread_count) == (3, 0)


@pytest.mark.parametrize("request_fields,expected", [
    ({}, {("ids", "exactly_one")}),
    ({"ids": ["1"], "all": True}, {("ids", "exactly_one")}),
    ({"ids": ["x1"]}, {("ids[0]", "format")}),
    ({"ids": [str(i) for i in range(1, 102)]}, {("ids", "max_items")}),
])
def test_mark_notifications_read_names_bad_input(stub, request_fields, expected):
    err = refused(stub.MarkNotificationsRead, pb.MarkNotificationsReadRequest(**request_fields),
                  metadata=ALICE)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err) == expected


def test_export_member_data_gives_a_shopper_her_own_notices_only(stub):
    request = common_pb2.ExportMemberDataRequest(member_id="alice")
    exported = stub.ExportMemberData(request, metadata=ALICE)
    assert [n.kind_code for n in exported.notifications] == [
        "order_created", "order_paid", "order_shipped", "coupon_expiring", "order_cancelled"]
    assert stub.ExportMemberData(request, metadata=(("x-mall-user-id", "s-1"),
                                                    ("x-mall-roles", "admin"))) == exported
    assert refused(stub.ExportMemberData, request, metadata=BOB).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    assert refused(stub.ExportMemberData, request).code() == grpc.StatusCode.UNAUTHENTICATED
