"""What payment asks the order service: the amount the order's owner has to pay now
(`OrderService.GetPayable`), so the amount never comes from the client."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import grpc
from mall.order.v1 import order_pb2, order_pb2_grpc

from servicekit import grpc_client
from servicekit.errors import from_rpc_error
from servicekit.times import parse_rfc3339


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
    phase: str = "full"      # full | deposit | balance: what of the order is due now


class OrderPort:
    def __init__(self, target: str | None = None):
        channel = grpc_client.channel("order", target=target)
        self._stub = order_pb2_grpc.OrderServiceStub(channel)
        self._desk = order_pb2_grpc.OrderDeskServiceStub(channel)

    def payable(self, order_id: str) -> Payable:
        """Asked with the caller's identity (the kit's channel sends it): order answers
        NOT_FOUND for another member's order; its refusals reach the caller as they are."""
        try:
            reply = self._stub.GetPayable(order_pb2.GetPayableRequest(order_id=order_id))
        except grpc.RpcError as err:
            raise from_rpc_error(err, "order") from None
        deadline = parse_rfc3339(reply.pay_deadline) if reply.pay_deadline else None
        return Payable(reply.order_id, reply.order_no, reply.member_id, reply.payable_fen,
                       reply.currency or "CNY", reply.description, deadline, reply.status,
                       reply.phase or "full")

    def refund_terms(self, order_id: str, lines) -> order_pb2.RefundTerms:
        """What a refund of these lines means for the order's gifts with purchase (order's
        GetRefundTerms, asked with the staff caller's identity): what to keep from it."""
        try:
            return self._desk.GetRefundTerms(order_pb2.RefundTermsRequest(
                order_id=order_id, lines=[order_pb2.RefundTermsLine(
                    line_id=line.line_id, quantity=line.quantity, amount_fen=line.amount_fen)
                    for line in lines]))
        except grpc.RpcError as err:
            raise from_rpc_error(err, "order") from None
