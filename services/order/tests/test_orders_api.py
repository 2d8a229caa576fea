"""The shopper's orders over gRPC: detail, tabs, paging, cancel, confirm, what payment asks."""
import grpc
import pytest
from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import payment_events_pb2 as payments
from mall.order.v1 import order_pb2, order_pb2_grpc

from servicekit.errors import violations_from_trailers
from services.order import orders

from .orders_helpers import ADDRESS, place, succeeded

ALICE = (("x-mall-user-id", "m-1"),)
BOB = (("x-mall-user-id", "m-2"),)


@pytest.fixture
def stub(runtime, grpc_stub_for):
    return grpc_stub_for("order", order_pb2_grpc.OrderServiceStub)


def code_of(call):
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code()


def test_the_owner_sees_the_whole_order_and_nobody_else_does(runtime, stub):
    order_id = place(runtime)
    view = stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), metadata=ALICE)
    assert view.status == "pending_payment" and view.payable_fen == 43415
    assert view.shipping_address == ADDRESS
    assert [line.sku_label for line in view.lines] == ["75B 黑色", "M 肤色"]
    assert dict(view.lines[0].discounts) == {"member": 1990}
    assert [(c.from_status, c.to_status) for c in view.timeline] == []  # placing is not shown
    assert view.pay_deadline
    assert code_of(lambda: stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id),
                                         metadata=BOB)) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id))) \
        == grpc.StatusCode.UNAUTHENTICATED


def test_tabs_and_pages(runtime, stub):
    ids = [place(runtime) for _ in range(5)]
    with runtime.transaction() as session:
        orders.on_payment_succeeded(session, runtime, succeeded(ids[0], 43415))
    place(runtime, member_id="m-2")

    def listed(tab="", size=0, token=""):
        return stub.ListMyOrders(order_pb2.ListMyOrdersRequest(
            tab=tab, page={"page_size": size, "page_token": token}), metadata=ALICE)

    assert [o.order_id for o in listed("to_ship").orders] == [ids[0]]
    assert len(listed("to_pay").orders) == 4
    first = listed(size=3)
    second = listed(size=3, token=first.page.next_page_token)
    assert [o.order_id for o in [*first.orders, *second.orders]] == ids[::-1]
    assert second.page.next_page_token == ""
    with pytest.raises(grpc.RpcError) as err:
        listed("to_pay", size=3, token=first.page.next_page_token)  # a token of another query
    assert [v.field for v in violations_from_trailers(err.value.trailing_metadata())] \
        == ["page.page_token"]
    assert code_of(lambda: listed("unpaid")) == grpc.StatusCode.INVALID_ARGUMENT


def test_cancel_and_what_payment_asks(runtime, stub):
    order_id = place(runtime)
    payable = stub.GetPayable(order_pb2.GetPayableRequest(order_id=order_id), metadata=ALICE)
    assert (payable.payable_fen, payable.currency, payable.status) == (43415, "CNY", "pending_payment")
    assert payable.description.endswith(payable.order_no)
    assert code_of(lambda: stub.GetPayable(order_pb2.GetPayableRequest(order_id=order_id),
                                           metadata=BOB)) == grpc.StatusCode.NOT_FOUND
    view = stub.CancelOrder(order_pb2.CancelOrderRequest(order_id=order_id, reason="买错了"),
                            metadata=ALICE)
    assert view.status == "cancelled"
    assert view.timeline[-1].reason == "买错了" and view.timeline[-1].actor_kind == "member"
    assert code_of(lambda: stub.GetPayable(order_pb2.GetPayableRequest(order_id=order_id),
                                           metadata=ALICE)) == grpc.StatusCode.FAILED_PRECONDITION


def test_a_paid_order_is_not_the_shoppers_to_cancel_but_theirs_to_confirm(runtime, stub):
    order_id = place(runtime)
    with runtime.transaction() as session:
        orders.on_payment_succeeded(session, runtime, succeeded(order_id, 43415))
    assert code_of(lambda: stub.CancelOrder(order_pb2.CancelOrderRequest(order_id=order_id),
                                            metadata=ALICE)) == grpc.StatusCode.FAILED_PRECONDITION
    assert code_of(lambda: stub.ConfirmReceipt(order_pb2.ConfirmReceiptRequest(order_id=order_id),
                                               metadata=ALICE)) == grpc.StatusCode.FAILED_PRECONDITION
    with runtime.transaction() as session:
        orders.on_shipment_changed(session, runtime, shipping.ShipmentChanged(
            shipment_id="s-1", order_id=order_id, carrier="sf", waybill_no="SF1",
            state=shipping.SHIPMENT_IN_TRANSIT, shipment_count=1))
    view = stub.ConfirmReceipt(order_pb2.ConfirmReceiptRequest(order_id=order_id), metadata=ALICE)
    assert view.status == "completed"
    assert [s.state for s in view.shipments] == ["in_transit"]
    assert [c.to_status for c in view.timeline] == ["paid", "shipped", "delivered", "completed"]


def test_each_line_shows_its_id_and_what_a_partial_refund_gave_back(runtime, stub):
    order_id = place(runtime)
    with runtime.transaction() as session:
        orders.on_payment_succeeded(session, runtime, succeeded(order_id, 43415))
    before = stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), metadata=ALICE)
    first, second = before.lines
    assert (first.line_id, second.line_id) == (f"{order_id}-1", f"{order_id}-2")
    with runtime.transaction() as session:  # staff refunded the second line (staff name it by id)
        orders.on_payment_refunded(session, runtime, payments.PaymentRefunded(
            order_id=order_id, refund_id="r-1", amount_fen=second.paid_fen,
            refunded_total_fen=second.paid_fen, paid_fen=43415, lines=[payments.PaymentRefundLine(
                line_id=second.line_id, sku_id=second.sku_id, quantity=1,
                amount_fen=second.paid_fen)]))
    after = stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), metadata=ALICE)
    assert [line.refunded_fen for line in after.lines] == [0, second.paid_fen]
    assert (after.status, after.refunded_fen) == ("paid", second.paid_fen)
    # in 退款/售后 as well as where its status puts it
    for tab in ("refunds", "to_ship"):
        assert [o.order_id for o in stub.ListMyOrders(order_pb2.ListMyOrdersRequest(tab=tab),
                                                      metadata=ALICE).orders] == [order_id]
