"""The inbox over gRPC: a member only ever sees and marks their own."""
import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc

from servicekit.errors import violations_from_trailers
from services.support import inbox

ALICE = (("x-mall-user-id", "alice"),)
BOB = (("x-mall-user-id", "bob"),)


@pytest.fixture
def stub(runtime, grpc_stub_for):
    with runtime.transaction() as session:
        for member, count in (("alice", 5), ("bob", 1)):
            for i in range(count):
                inbox.notify(session, member_id=member, kind="order_cancelled",
                             order_id=f"o-{member}-{i}", title="订单已取消", body=f"第{i}单")
    return grpc_stub_for("support", support_pb2_grpc.NotificationServiceStub)


def list_all(stub, metadata, size=2, unread_only=False):
    seen, token = [], ""
    while True:
        reply = stub.ListNotifications(pb.ListNotificationsRequest(
            page=common_pb2.PageRequest(page_size=size, page_token=token),
            unread_only=unread_only), metadata=metadata)
        seen += list(reply.notifications)
        token = reply.page.next_page_token
        if not token:
            return seen, reply.unread_count


def test_list_pages_through_only_the_callers_notifications(stub):
    alice, unread = list_all(stub, ALICE)
    assert [n.body for n in alice] == [f"第{i}单" for i in (4, 3, 2, 1, 0)]
    assert unread == 5 and all(n.kind == pb.ORDER_CANCELLED and not n.read for n in alice)
    bob, _ = list_all(stub, BOB)
    assert [n.order_id for n in bob] == ["o-bob-0"]


def test_a_page_token_of_one_member_is_refused_to_another(stub):
    first = stub.ListNotifications(pb.ListNotificationsRequest(
        page=common_pb2.PageRequest(page_size=1)), metadata=ALICE)
    with pytest.raises(grpc.RpcError) as err:
        stub.ListNotifications(pb.ListNotificationsRequest(page=common_pb2.PageRequest(
            page_token=first.page.next_page_token)), metadata=BOB)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations_from_trailers(err.value.trailing_metadata())[0].field == "page.page_token"


def test_mark_read_then_unread_only(stub):
    alice, _ = list_all(stub, ALICE)
    reply = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(
        ids=[alice[0].id, alice[1].id]), metadata=ALICE)
    assert (reply.marked_count, reply.unread_count) == (2, 3)
    unread, count = list_all(stub, ALICE, unread_only=True)
    assert [n.id for n in unread] == [n.id for n in alice[2:]] and count == 3
    reply = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(all=True), metadata=ALICE)
    assert (reply.marked_count, reply.unread_count) == (3, 0)


def test_marking_someone_elses_notification_is_not_found(stub):
    bob, _ = list_all(stub, BOB)
    with pytest.raises(grpc.RpcError) as err:
        stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(ids=[bob[0].id]), metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert list_all(stub, BOB)[1] == 1


def test_without_a_member_the_inbox_is_unauthenticated(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.ListNotifications(pb.ListNotificationsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_every_kind_of_notice_is_listed_with_its_kind(runtime, grpc_stub_for):
    from mall.events.v1 import order_events_pb2 as order_events
    from mall.support.v1 import support_pb2 as pb
    from mall.support.v1 import support_pb2_grpc

    from services.support import inbox
    with runtime.transaction() as session:
        inbox.on_order_status_changed(session, order_events.OrderStatusChanged(
            order_id="o-1", order_no="N-1", member_id="m-kinds", to_status="shipped"))
    stub = grpc_stub_for("support", support_pb2_grpc.NotificationServiceStub)
    [listed] = stub.ListNotifications(pb.ListNotificationsRequest(),
                                      metadata=(("x-mall-user-id", "m-kinds"),)).notifications
    assert (listed.kind, listed.kind_code, listed.order_id) == (pb.ORDER_SHIPPED, "order_shipped", "o-1")
