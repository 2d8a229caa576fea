"""Bank cards through an acquirer speaking Stripe's PaymentIntents protocol, with the official
`stripe` SDK: create a PaymentIntent in fen (CNY's smallest unit) whose client_secret the client
confirms with the card (card details never reach us), retrieve, cancel, refund; webhooks verified
by `Stripe-Signature` (t=..., v1=HMAC-SHA256(secret, t + "." + body)) within 5 minutes."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import stripe

from ..credentials import CardCredentials
from . import (
    CLOSED,
    FAILED,
    OPEN,
    PAID,
    Answer,
    NotificationRefused,
    PrepayRequest,
    ProviderError,
    ProviderRefund,
    ProviderTrade,
    VerifiedNotification,
)

TOLERANCE_SECONDS = 300
PI_STATES = {"succeeded": PAID, "canceled": CLOSED, "requires_payment_method": OPEN,
             "requires_confirmation": OPEN, "requires_action": OPEN, "processing": OPEN,
             "requires_capture": OPEN}
REFUND_STATES = {"succeeded": "succeeded", "pending": "processing", "requires_action": "processing",
                 "failed": "failed", "canceled": "failed"}
TRADE_EVENTS = {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"}
REFUND_EVENTS = {"refund.updated", "refund.created", "refund.failed"}


class CardAcquirer:
    name = "card"

    def __init__(self, credentials: CardCredentials, *, timeout: float = 5.0):
        self.credentials = credentials
        self._client = stripe.StripeClient(
            credentials.secret_key, base_addresses={"api": credentials.api_base}, max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout))

    def _call(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except stripe.APIConnectionError as err:
            raise ProviderError(f"the card acquirer is unreachable: {err}", "UNREACHABLE", retryable=True) from err
        except stripe.StripeError as err:
            status = err.http_status or 0
            raise ProviderError(f"the card acquirer refused: {err.user_message or err}", err.code or str(status),
                                retryable=status >= 500) from err

    def prepay(self, request: PrepayRequest) -> dict:
        """A PaymentIntent; its id becomes the intent's out_trade_no (the acquirer names it)."""
        intent = self._call(self._client.v1.payment_intents.create, params={
            "amount": request.amount_fen, "currency": "cny", "description": request.description[:200],
            "payment_method_types": ["card"], "metadata": {"our_trade_no": request.out_trade_no}},
            options={"idempotency_key": request.out_trade_no})
        return {"client_secret": intent.client_secret, "out_trade_no": intent.id}

    def query(self, out_trade_no: str) -> ProviderTrade:
        return self._trade(self._call(self._client.v1.payment_intents.retrieve, out_trade_no).to_dict())

    def close(self, out_trade_no: str) -> None:
        self._call(self._client.v1.payment_intents.cancel, out_trade_no)

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int,
               reason: str) -> ProviderRefund:
        refund = self._call(self._client.v1.refunds.create, params={
            "payment_intent": out_trade_no, "amount": amount_fen,
            "metadata": {"out_refund_no": out_refund_no, "reason": reason[:200]}},
            options={"idempotency_key": out_refund_no})
        return self._refund(refund.to_dict())

    def query_refund(self, *, out_trade_no: str, out_refund_no: str, provider_refund_id: str) -> ProviderRefund:
        return self._refund(self._call(self._client.v1.refunds.retrieve, provider_refund_id).to_dict())

    @staticmethod
    def _trade(pi: dict) -> ProviderTrade:
        paid_at = None
        if pi.get("status") == "succeeded":
            paid_at = datetime.now(timezone.utc)
        return ProviderTrade(out_trade_no=pi["id"], state=PI_STATES.get(pi.get("status"), OPEN),
                             provider_state=pi.get("status", ""),
                             amount_fen=int(pi.get("amount_received") or 0) if pi.get("status") == "succeeded"
                             else int(pi.get("amount") or 0),
                             currency=(pi.get("currency") or "").upper(),
                             transaction_id=pi["id"] if pi.get("status") == "succeeded" else "",
                             paid_at=paid_at)

    @staticmethod
    def _refund(refund: dict) -> ProviderRefund:
        metadata = refund.get("metadata") or {}
        return ProviderRefund(out_refund_no=metadata.get("out_refund_no", ""),
                              state=REFUND_STATES.get(refund.get("status"), "processing"),
                              provider_state=refund.get("status", ""), refund_id=refund.get("id", ""),
                              amount_fen=int(refund.get("amount") or 0),
                              out_trade_no=refund.get("payment_intent") or "")

    def verify_notification(self, headers: dict[str, str], body: bytes) -> VerifiedNotification:
        header = {k.lower(): v for k, v in headers.items()}.get("stripe-signature", "")
        try:
            stripe.WebhookSignature.verify_header(body, header, self.credentials.webhook_secret,
                                                  tolerance=TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as err:
            raise NotificationRefused(f"Stripe-Signature: {err.user_message or err}") from None
        except UnicodeDecodeError:
            raise NotificationRefused("the body is not UTF-8") from None
        stamp = dict(part.split("=", 1) for part in header.split(",") if "=" in part).get("t", "0")
        if int(stamp) > time.time() + TOLERANCE_SECONDS:  # the SDK checks the past side only
            raise NotificationRefused("Stripe-Signature timestamp is in the future")
        try:
            event = json.loads(body)
            kind, obj = event["type"], event["data"]["object"]
        except (ValueError, KeyError, TypeError):
            raise NotificationRefused("signed, but not an event", signed=True) from None
        if kind in TRADE_EVENTS:
            trade = self._trade(obj)
            if kind == "payment_intent.payment_failed":
                trade = ProviderTrade(trade.out_trade_no, FAILED, "payment_failed", trade.amount_fen, trade.currency)
            return VerifiedNotification(kind, trade=trade)
        if kind in REFUND_EVENTS:
            return VerifiedNotification(kind, refund=self._refund(obj))
        return VerifiedNotification(kind)  # an event we do not act on

    @staticmethod
    def answer(ok: bool, status: int = 400) -> Answer:
        """Stripe retries anything but a 2xx."""
        return Answer(200 if ok else status, "application/json",
                      json.dumps({"received": ok}).encode())

    def close_client(self) -> None:
        pass
