"""Payment's gRPC surface through the real server."""
import grpc
import pytest
from mall.payment.v1 import payment_pb2, payment_pb2_grpc

from servicekit.errors import violations_from_trailers
from services.payment import intents

OWNER = (("x-mall-user-id", "m-1"),)
STRANGER = (("x-mall-user-id", "m-2"),)
AGENT = (("x-mall-user-id", "staff-9"), ("x-mall-roles", "cs_agent"))


@pytest.fixture
def stub(runtime, grpc_stub_for):
    return grpc_stub_for("payment", payment_pb2_grpc.PaymentServiceStub)


def test_list_payment_methods_prices_huabei_for_the_amount(stub):
    reply = stub.ListPaymentMethods(payment_pb2.ListPaymentMethodsRequest(amount_fen=100000))
    assert [m.code for m in reply.methods] == ["wechat_jsapi", "alipay", "card"]
    assert reply.methods[1].method == payment_pb2.ALIPAY
    assert [(i.periods, i.total_fen) for i in reply.methods[1].installments] == \
        [(3, 102300), (6, 104500), (12, 107500)]
    with pytest.raises(grpc.RpcError) as err:
        stub.ListPaymentMethods(payment_pb2.ListPaymentMethodsRequest(amount_fen=-5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations_from_trailers(err.value.trailing_metadata())[0].field == "amount_fen"


def test_get_payment_intent_for_its_owner_and_staff_only(runtime, stub):
    with runtime.transaction() as session:
        pi = intents.create_intent(session, order_id="o-1", member_id="m-1", method="alipay",
                                   amount_fen=19900, installment_periods=3)
    request = payment_pb2.GetPaymentIntentRequest(order_id="o-1")
    mine = stub.GetPaymentIntent(request, metadata=OWNER)
    assert (mine.id, mine.status, mine.status_code, mine.amount_fen, mine.currency,
            mine.installment_periods) == (pi.id, payment_pb2.CREATED, "created", 19900, "CNY", 3)
    assert mine.created_at.seconds > 0 and not mine.HasField("succeeded_at")
    assert stub.GetPaymentIntent(request, metadata=AGENT).id == pi.id
    for metadata, code in ((STRANGER, grpc.StatusCode.NOT_FOUND),
                           ((), grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.RpcError) as err:
            stub.GetPaymentIntent(request, metadata=metadata)
        assert err.value.code() == code
    with pytest.raises(grpc.RpcError) as err:
        stub.GetPaymentIntent(payment_pb2.GetPaymentIntentRequest(order_id="o-none"), metadata=OWNER)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
