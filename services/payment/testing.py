"""Test tooling for payment and its callers (the gateway's tests): the provider stand-ins on free
ports with freshly generated development keys, a contract stand-in for OrderService.GetPayable,
and a notify relay that hands what a stand-in notifies to HandleNotification, as the gateway does.
Never imported by the service itself."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from mall.order.v1 import order_pb2, order_pb2_grpc
from mall.payment.v1 import payment_pb2, payment_pb2_grpc

from servicekit import grpc_client
from standins.alipay import AlipayKeys, AlipayStandin
from standins.card import CardStandin
from standins.server import Reply, RunningStandin
from standins.wechatpay import WechatPayKeys, WechatPayStandin

from . import credentials, devkeys
from .providers import registry

OPENID = "o-standin-shopper"


@dataclass
class Order:
    order_id: str
    member_id: str
    payable_fen: int
    status: str = "pending_payment"
    order_no: str = ""
    phase: str = "full"      # a pre-sale's deposit or balance: what GetPayable says is due now


class OrderStandin(order_pb2_grpc.OrderServiceServicer):
    """OrderService.GetPayable as order.proto promises it: NOT_FOUND for an unknown order or
    another member's, FAILED_PRECONDITION when it no longer waits for payment."""

    def __init__(self):
        self.orders: dict[str, Order] = {}
        self.calls = 0
        self.gift_deductions: dict[str, int] = {}  # order id -> what GetRefundTerms keeps
        self.terms_asked: list[order_pb2.RefundTermsRequest] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        order_pb2_grpc.add_OrderServiceServicer_to_server(self, self._server)
        order_pb2_grpc.add_OrderDeskServiceServicer_to_server(_DeskStandin(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def add(self, order_id: str, member_id: str, payable_fen: int, status: str = "pending_payment") -> Order:
        self.orders[order_id] = Order(order_id, member_id, payable_fen, status, f"NO{order_id}")
        return self.orders[order_id]

    def GetPayable(self, request, context):
        self.calls += 1
        caller = dict(context.invocation_metadata()).get("x-mall-user-id", "")
        order = self.orders.get(request.order_id)
        if order is None or order.member_id != caller:
            context.abort(grpc.StatusCode.NOT_FOUND, f"order {request.order_id} not found")
        if order.status != "pending_payment":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"order is {order.status}")
        return order_pb2.Payable(order_id=order.order_id, order_no=order.order_no,
                                 member_id=order.member_id, payable_fen=order.payable_fen,
                                 currency="CNY", description=f"内衣商城订单 {order.order_no}",
                                 status=order.status, phase=order.phase)

    def stop(self) -> None:
        self._server.stop(0)


class _DeskStandin(order_pb2_grpc.OrderDeskServiceServicer):
    """OrderDeskService.GetRefundTerms: keeps what `gift_deductions` says for the order."""

    def __init__(self, orders: OrderStandin):
        self.orders = orders

    def GetRefundTerms(self, request, context):
        self.orders.terms_asked.append(request)
        deduct = self.orders.gift_deductions.get(request.order_id, 0)
        gifts = [order_pb2.GiftTerm(gift_line_id=f"{request.order_id}-gift", outcome="deducted",
                                    deduct_fen=deduct)] if deduct else []
        return order_pb2.RefundTerms(order_id=request.order_id, deduct_fen=deduct, gifts=gifts)


class NotifyRelay:
    """What the gateway does with a provider's notification, for payment's own tests: the raw
    body and headers to HandleNotification, its answer back to the provider."""

    def __init__(self, payment_target_getter):
        self._target = payment_target_getter
        self.answers: list[tuple[str, int, str]] = []
        self._stubs: dict[str, payment_pb2_grpc.PaymentServiceStub] = {}
        self._running = RunningStandin(self)

    @property
    def base_url(self) -> str:
        return self._running.base_url

    def handle(self, method, path, query, headers, body) -> Reply:
        provider = path.rsplit("/", 1)[-1]
        target = self._target()
        if target not in self._stubs:  # one channel per server the tests built
            self._stubs[target] = payment_pb2_grpc.PaymentServiceStub(grpc_client.channel("payment", target=target))
        stub = self._stubs[target]
        answer = stub.HandleNotification(payment_pb2.HandleNotificationRequest(
            provider=provider, headers=headers, raw_body=body))
        self.answers.append((provider, answer.http_status, answer.outcome))
        return Reply(answer.http_status, answer.body, answer.content_type)

    def stop(self) -> None:
        self._running.stop()


@dataclass
class Providers:
    wechatpay: WechatPayStandin
    alipay: AlipayStandin
    card: CardStandin
    wechatpay_url: str
    alipay_url: str
    card_url: str


_state: dict = {}
_lock = threading.Lock()


def provider_standins() -> Providers:
    """Dev keys in this session's var/, both stand-ins started once per process, and payment's
    settings pointed at them (before any adapter is built)."""
    with _lock:
        if "providers" not in _state:
            directory = devkeys.ensure(credentials.key_dir())
            wechat = RunningStandin(WechatPayStandin(WechatPayKeys.from_dir(directory)))
            alipay = RunningStandin(AlipayStandin(AlipayKeys.from_dir(directory)))
            card_keys = credentials.CardCredentials.load()
            card = RunningStandin(CardStandin(card_keys.secret_key, card_keys.webhook_secret))
            os.environ["MALL_PAYMENT_CARD_API_BASE"] = card.base_url
            os.environ["MALL_PAYMENT_WECHATPAY_API_BASE"] = wechat.base_url
            os.environ["MALL_PAYMENT_ALIPAY_GATEWAY"] = alipay.base_url + "/gateway.do"
            # Never the default gateway port: a `make run` on this machine must not hear from tests.
            os.environ.setdefault("MALL_PAYMENT_NOTIFY_BASE_URL", "http://127.0.0.1:9")
            registry.reset()
            _state["providers"] = Providers(wechat.standin, alipay.standin, card.standin,
                                            wechat.base_url, alipay.base_url, card.base_url)
        return _state["providers"]


@contextmanager
def payment_world(payment_target: Callable[[], str]) -> Iterator[tuple[Providers, OrderStandin, NotifyRelay]]:
    """Payment pointed at its provider stand-ins (fresh development keys), at a stand-in of
    OrderService.GetPayable, and its notifications handed by a relay to `payment_target()`'s
    HandleNotification, as the gateway does; payment's settings are put back afterwards."""
    from servicekit.testing import environment

    providers = provider_standins()
    orders = OrderStandin()
    relay = NotifyRelay(payment_target)
    registry.reset()
    try:
        with environment(MALL_ORDER_GRPC_TARGET=f"127.0.0.1:{orders.port}",
                         MALL_PAYMENT_NOTIFY_BASE_URL=relay.base_url):
            yield providers, orders, relay
    finally:
        relay.stop()
        orders.stop()
        registry.reset()
