"""The cart over gRPC, through the real server and its interceptors."""
import grpc
import pytest
from mall.order.v1 import order_pb2, order_pb2_grpc

from servicekit.errors import violations_from_trailers
from services.order import products

from .helpers import catalog_product

ALICE = (("x-mall-user-id", "member-alice"),)
BOB = (("x-mall-user-id", "member-bob"),)


@pytest.fixture
def stub(runtime, grpc_stub_for):
    with runtime.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(catalog_product()))
    return grpc_stub_for("order", order_pb2_grpc.CartServiceStub)


def test_add_update_remove_and_get_over_grpc(stub):
    cart = stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=2),
                            metadata=ALICE)
    assert cart.subtotal_fen == 39800 and cart.lines[0].attributes["colour"] == "黑色"
    cart = stub.UpdateCartItem(order_pb2.UpdateCartItemRequest(sku_id="sku-75b-black",
                                                               quantity=3), metadata=ALICE)
    assert cart.lines[0].line_total_fen == 59700
    stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1), metadata=ALICE)
    cart = stub.RemoveCartItem(order_pb2.RemoveCartItemRequest(sku_id="sku-75b-black"),
                               metadata=ALICE)
    assert [line.sku_id for line in cart.lines] == ["sku-80c-nude"]
    assert stub.GetCart(order_pb2.GetCartRequest(), metadata=ALICE) == cart


def test_without_a_member_the_cart_is_unauthenticated(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.GetCart(order_pb2.GetCartRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_input_comes_back_as_field_violations(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-nope", quantity=1), metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())] \
        == [("sku_id", "exists")]
    with pytest.raises(grpc.RpcError) as err:
        stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=100),
                         metadata=ALICE)
    assert [v.field for v in violations_from_trailers(err.value.trailing_metadata())] == ["quantity"]


def test_a_retried_add_with_an_idempotency_key_adds_once(stub):
    keyed = ALICE + (("idempotency-key", "add-1"),)
    request = order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=2)
    stub.AddCartItem(request, metadata=keyed)
    assert stub.AddCartItem(request, metadata=keyed).lines[0].quantity == 2
    assert stub.AddCartItem(request, metadata=ALICE + (("idempotency-key", "add-2"),)) \
        .lines[0].quantity == 4
    # Keys are the caller's own: Bob's "add-1" is a new add to his cart.
    assert stub.AddCartItem(request, metadata=BOB + (("idempotency-key", "add-1"),)) \
        .lines[0].quantity == 2


def test_a_key_reused_for_another_add_is_refused_and_a_failed_add_keeps_it_free(stub):
    keyed = ALICE + (("idempotency-key", "add-3"),)
    with pytest.raises(grpc.RpcError) as err:
        stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-nope", quantity=1), metadata=keyed)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=1), metadata=keyed)
    with pytest.raises(grpc.RpcError) as err:
        stub.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=5),
                         metadata=keyed)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())] \
        == [("idempotency-key", "reused")]
