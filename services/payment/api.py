"""gRPC: payment methods and payment intent queries."""
from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mall.payment.v1 import payment_pb2, payment_pb2_grpc

from servicekit.context import require_user
from servicekit.errors import InvalidArgument, NotFound
from servicekit.runtime import Runtime

from . import intents, methods
from .models import PaymentIntent

STAFF_WHO_SEE_PAYMENTS = ("admin", "operator", "cs_agent")
METHOD_ENUM = {"wechat_jsapi": payment_pb2.WECHAT_JSAPI, "alipay": payment_pb2.ALIPAY,
               "card": payment_pb2.CARD}
STATUS_ENUM = {name: payment_pb2.PaymentStatus.Value(name.upper())
               for name in ("created", "pending", "succeeded", "failed", "cancelled", "refunded")}


def _timestamp(moment) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def intent_to_proto(intent: PaymentIntent) -> payment_pb2.PaymentIntent:
    return payment_pb2.PaymentIntent(
        id=intent.id, order_id=intent.order_id, member_id=intent.member_id,
        method=METHOD_ENUM[intent.method], method_code=intent.method,
        amount_fen=intent.amount_fen, currency=intent.currency,
        status=STATUS_ENUM[intent.status], status_code=intent.status,
        provider_transaction_id=intent.provider_transaction_id or "",
        installment_periods=intent.installment_periods,
        created_at=_timestamp(intent.created_at), updated_at=_timestamp(intent.updated_at),
        succeeded_at=_timestamp(intent.succeeded_at), closed_at=_timestamp(intent.closed_at))


class PaymentService(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def ListPaymentMethods(self, request, context):
        return payment_pb2.ListPaymentMethodsResponse(methods=[
            payment_pb2.PaymentMethodOption(
                method=METHOD_ENUM[option.code], code=option.code,
                display_name=option.display_name,
                installments=[payment_pb2.InstallmentOption(
                    periods=i.periods, fee_rate_bp=i.fee_rate_bp, fee_fen=i.fee_fen,
                    total_fen=i.total_fen, per_period_fen=i.per_period_fen)
                    for i in option.installments])
            for option in methods.payment_methods(request.amount_fen)])

    def GetPaymentIntent(self, request, context):
        caller = require_user("seeing a payment")
        if not request.order_id:
            raise InvalidArgument.field("order_id", "required", "order_id is required")
        with self.runtime.transaction() as session:
            intent = intents.latest_for_order(session, request.order_id)
            # Someone else's order answers exactly like an order without payment: no probing.
            if intent.member_id != caller.user_id and not caller.has_role(*STAFF_WHO_SEE_PAYMENTS):
                raise NotFound(f"order {request.order_id} has no payment yet")
            return intent_to_proto(intent)


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    payment_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentService(runtime), server)
    return [payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name]
