"""gRPC: payment methods, creating payments, provider notifications, refunds and queries."""
from __future__ import annotations

import json

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mall.payment.v1 import payment_pb2, payment_pb2_grpc

from servicekit import idempotency, roles
from servicekit.config import grpc_target
from servicekit.context import current, require_roles, require_self_or_roles, require_user
from servicekit.errors import InvalidArgument, NotFound
from servicekit.runtime import Runtime

from . import intents, member_data, methods, notifications, payments, reconcile, refunds
from .models import PaymentIntent, Refund
from .order_port import OrderPort

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
        succeeded_at=_timestamp(intent.succeeded_at), closed_at=_timestamp(intent.closed_at),
        refunded_fen=intent.refunded_fen or 0, seller_percent=intent.seller_percent or 0,
        out_trade_no=intent.out_trade_no or "", phase=intent.phase or "full")


def refund_to_proto(refund: Refund) -> payment_pb2.Refund:
    return payment_pb2.Refund(
        id=refund.id, payment_intent_id=refund.payment_intent_id, order_id=refund.order_id,
        refund_request_id=refund.refund_request_id, amount_fen=refund.amount_fen,
        status=refund.status, reason=refund.reason, provider_refund_id=refund.provider_refund_id or "",
        lines=[payment_pb2.RefundLine(**line) for line in json.loads(refund.lines or "[]")],
        created_at=_timestamp(refund.created_at), succeeded_at=_timestamp(refund.succeeded_at))


def prepared_to_proto(prepared: payments.Prepared) -> payment_pb2.CreatePaymentResponse:
    reply = payment_pb2.CreatePaymentResponse(intent=intent_to_proto(prepared.intent))
    if prepared.intent.method == "wechat_jsapi":
        reply.wechat.CopyFrom(payment_pb2.WechatJsapiParams(**prepared.client))
    elif prepared.intent.method == "alipay":
        reply.alipay_order_string = prepared.client["order_string"]
    else:
        reply.card_client_secret = prepared.client.get("client_secret", "")
    return reply


class PaymentService(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._orders: dict[str, OrderPort] = {}

    def _order_port(self) -> OrderPort:
        target = grpc_target("order")  # read per call: tests point it at their stand-in
        if target not in self._orders:
            self._orders[target] = OrderPort(target)
        return self._orders[target]

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
            if intent.member_id != caller.user_id and not caller.has_role(*roles.ORDER_DESK):
                raise NotFound(f"order {request.order_id} has no payment yet")
            return intent_to_proto(intent)

    def CreatePayment(self, request, context):
        caller = require_user("paying an order")
        choice = payments.PaymentChoice(order_id=request.order_id, method=request.method,
                                        installments=request.installments,
                                        seller_percent=request.seller_percent,
                                        payer_openid=request.payer_openid)
        payments.validate(choice)  # before asking order anything

        def work(session):
            # Asked only when the key is new: a retry after the order was paid still gets the
            # first answer.
            payable = self._order_port().payable(request.order_id)
            return prepared_to_proto(payments.create_payment(session, self.runtime, payable,
                                                             caller.user_id, choice))

        with self.runtime.transaction() as session:
            return idempotency.run_once(
                session, scope=f"payment.create:{caller.user_id}", key=current().idempotency_key,
                request={"order_id": choice.order_id, "method": choice.method,
                         "installments": choice.installments, "seller_percent": choice.seller_percent,
                         "payer_openid": choice.payer_openid},
                response_type=payment_pb2.CreatePaymentResponse, work=lambda: work(session))

    def HandleNotification(self, request, context):
        handled = notifications.handle(self.runtime, request.provider, dict(request.headers),
                                       request.raw_body)
        return payment_pb2.NotificationAnswer(
            http_status=handled.answer.http_status, content_type=handled.answer.content_type,
            body=handled.answer.body, outcome=handled.outcome)

    def RefundPayment(self, request, context):
        caller = require_roles(*roles.ORDER_DESK, action="refunding a payment")
        lines = [refunds.RefundLine(line.line_id, line.sku_id, line.quantity, line.amount_fen)
                 for line in request.lines]
        amount_fen = request.amount_fen
        with self.runtime.transaction() as session:
            new = not refunds.exists(session, request.refund_request_id)
        if new and lines and all(line.amount_fen > 0 for line in lines):
            # a gift with purchase the refund takes below its threshold: order says what to keep
            terms = self._order_port().refund_terms(request.order_id, lines)
            if terms.deduct_fen:
                asked = sum(line.amount_fen for line in lines)
                lines = refunds.spread_deduction(lines, terms.deduct_fen)
                if amount_fen == asked:  # the whole of the lines: what goes back now
                    amount_fen = sum(line.amount_fen for line in lines)
        with self.runtime.transaction() as session:
            refund = refunds.request_refund(
                session, order_id=request.order_id, refund_request_id=request.refund_request_id,
                amount_fen=amount_fen, lines=lines, reason=request.reason,
                requested_by=caller.user_id)
            refund_id = refund.id
        return refund_to_proto(refunds.submit(self.runtime, refund_id))

    def ListRefunds(self, request, context):
        require_roles(*roles.ORDER_DESK, action="seeing refunds")
        with self.runtime.transaction() as session:
            found = refunds.refunds_of_order(session, request.order_id)
            if not found:
                intents.latest_for_order(session, request.order_id)  # an order never paid: 404
            return payment_pb2.ListRefundsResponse(refunds=[refund_to_proto(r) for r in found])

    def ReconcilePayment(self, request, context):
        require_roles(*roles.ORDER_DESK, action="reconciling a payment")
        with self.runtime.transaction() as session:
            intent = intents.latest_for_order(session, request.order_id)
            method, out_trade_no, status = intent.method, intent.out_trade_no, intent.status
        if status == "pending" and out_trade_no:
            reconcile.check_one(self.runtime, method, out_trade_no)
        with self.runtime.transaction() as session:
            return intent_to_proto(intents.latest_for_order(session, request.order_id))

    def ExportMemberData(self, request, context):
        require_self_or_roles(request.member_id, roles.ADMIN, action="exporting a member's payments")
        with self.runtime.transaction() as session:
            found = member_data.payments_of(session, request.member_id)
            return payment_pb2.MemberPaymentData(
                payments=[intent_to_proto(i) for i in found],
                refunds=[refund_to_proto(r) for r in member_data.refunds_of(session, found)])


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    payment_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentService(runtime), server)
    return [payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name]
