
import pytest
from mall.payment.v1 import payment_pb2_grpc

from services.payment import testing

_payment_target: dict[str, str] = {}


@pytest.fixture
def runtime(runtime_for):
    return runtime_for("payment")


@pytest.fixture(scope="session")
def payment_world():
    """Provider stand-ins with fresh dev keys, the order contract stand-in, and a notify relay in
    place of the gateway; payment's settings point at them before any adapter is built."""
    with testing.payment_world(lambda: _payment_target["target"]) as world:
        yield world


@pytest.fixture
def providers(payment_world):
    return payment_world[0]


@pytest.fixture
def orders(payment_world):
    payment_world[1].orders.clear()
    payment_world[1].calls = 0
    return payment_world[1]


@pytest.fixture
def relay(payment_world):
    payment_world[2].answers.clear()
    return payment_world[2]


@pytest.fixture
def stub(runtime, payment_world, grpc_target_for):
    _payment_target["target"] = grpc_target_for("payment")
    from servicekit import grpc_client
    return payment_pb2_grpc.PaymentServiceStub(grpc_client.channel("payment", target=_payment_target["target"]))
