"""What payment asks the order service: the amount the order's owner has to pay now
(`OrderService.GetPayable`), so the amount never comes from the client."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import grpc
from mall.order.v1 import order_pb2, order_pb2_grpc

from servicekit import grpc_client
from servicekit.errors import FailedPrecondition, NotFound
from servicekit.times import parse_rfc3339

from .errors import UpstreamUnavailable


@dataclass(frozen=True)
class Payable:
    order_id: str
    order_no: str
    member_id: str
    payable_fen: int
    currency: str
    description: str
    pay_deadline: datetime | None
    status: str


class OrderPort:
    def __init__(self, target: str | None = None):
        self._stub = order_pb2_grpc.OrderServiceStub(grpc_client.channel("order", target=target))

    def payable(self, order_id: str) -> Payable:
        """Asked with the caller's identity (the kit's channel sends it): order answers
        NOT_FOUND for another member's order."""
        try:
            reply = self._stub.GetPayable(order_pb2.GetPayableRequest(order_id=order_id))
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"order {order_id} was not found") from None
            if err.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise FailedPrecondition(f"order {order_id} cannot be paid now: {err.details()}") from None
            raise UpstreamUnavailable(f"the order service did not answer: {err.code().name}") from None
        deadline = parse_rfc3339(reply.pay_deadline) if reply.pay_deadline else None
        return Payable(reply.order_id, reply.order_no, reply.member_id, reply.payable_fen,
                       reply.currency or "CNY", reply.description, deadline, reply.status)
