"""A local stand-in for a card acquirer speaking Stripe's API (the PaymentIntents subset payment
uses), for `make run` and the tests:

- requests need `Authorization: Bearer <secret key>`; an Idempotency-Key replays the first answer;
- `POST /v1/payment_intents`, `GET /v1/payment_intents/{id}`, `POST /v1/payment_intents/{id}/cancel`,
  `POST /v1/refunds` answer Stripe's JSON objects, errors as `{"error": {"type", "code", "message"}}`;
- `POST /standin/pay {"client_secret"}` is the shopper confirming with a card (Stripe.js on a
  real page): the PaymentIntent succeeds and a `payment_intent.succeeded` event is posted to the
  webhook URL with `Stripe-Signature: t=...,v1=HMAC-SHA256(whsec, t.body)`, resent until 2xx.
  A card number of 4000000000000002 in `{"card": ...}` is declined (payment_intent.payment_failed).

    python -m standins.card --port 8095
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from urllib.parse import parse_qsl

import stripe

from servicekit.config import env
from services.payment import credentials

from .server import Reply, deliver, main

DECLINED_CARD = "4000000000000002"  # Stripe's documented test card for a generic decline


def _form(body: bytes) -> dict:
    """Stripe's form encoding, flat: metadata[k]=v becomes {"metadata": {"k": v}}."""
    out: dict = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        if "[" in key:
            outer, inner = key.split("[", 1)
            out.setdefault(outer, {})[inner.rstrip("]")] = value
        else:
            out[key] = value
    return out


class CardStandin:
    def __init__(self, secret_key: str, webhook_secret: str, webhook_url: str = ""):
        """Without `webhook_url`, events go to the gateway payment is configured with."""
        self.secret_key, self.webhook_secret, self._webhook_url = secret_key, webhook_secret, webhook_url
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self._replays: dict[str, Reply] = {}
        self._lock = threading.RLock()

    @staticmethod
    def _json(status: int, data: dict) -> Reply:
        return Reply(status, json.dumps(data).encode(), headers={"Request-Id": "req_" + secrets.token_hex(7)})

    def _error(self, status: int, code: str, message: str, kind: str = "invalid_request_error") -> Reply:
        return self._json(status, {"error": {"type": kind, "code": code, "message": message}})

    def handle(self, method: str, path: str, query: str, headers: dict, body: bytes) -> Reply:
        if path.startswith("/standin/"):
            return self._standin_call(path, body)
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization") != f"Bearer {self.secret_key}":
            return self._error(401, "api_key_invalid", "Invalid API Key provided", "authentication_error")
        key = lowered.get("idempotency-key", "")
        with self._lock:
            if key and (method, path, key) in self._replays:
                return self._replays[(method, path, key)]
            reply = self._route(method, path, _form(body) if body else {})
            if key and reply.status < 500:
                self._replays[(method, path, key)] = reply
            return reply

    def _route(self, method: str, path: str, form: dict) -> Reply:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create(form)
        if parts[:2] == ["v1", "payment_intents"] and len(parts) >= 3:
            intent = self.intents.get(parts[2])
            if intent is None:
                return self._error(404, "resource_missing", f"No such payment_intent: '{parts[2]}'")
            if method == "GET" and len(parts) == 3:
                return self._json(200, intent)
            if method == "POST" and parts[3:] == ["cancel"]:
                if intent["status"] == "succeeded":
                    return self._error(400, "payment_intent_unexpected_state",
                                       "You cannot cancel this PaymentIntent because it has a status of succeeded.")
                intent["status"] = "canceled"
                return self._json(200, intent)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(form)
        if method == "GET" and parts[:2] == ["v1", "refunds"] and len(parts) == 3 and parts[2] in self.refunds:
            return self._json(200, self.refunds[parts[2]])
        return self._error(404, "resource_missing", f"Unrecognized request URL ({method}: {path})")

    def _create(self, form: dict) -> Reply:
        amount = form.get("amount", "")
        if not (amount.isascii() and amount.isdigit()) or int(amount) < 1 or form.get("currency") != "cny":
            return self._error(400, "parameter_invalid_integer", "amount must be a positive integer of fen in cny")
        pi_id = "pi_" + secrets.token_hex(12)
        self.intents[pi_id] = {"id": pi_id, "object": "payment_intent", "amount": int(form["amount"]),
                               "amount_received": 0, "currency": "cny", "status": "requires_payment_method",
                               "client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}",
                               "description": form.get("description", ""), "metadata": form.get("metadata", {}),
                               "latest_charge": None, "livemode": False, "created": int(time.time())}
        return self._json(200, self.intents[pi_id])

    def _refund(self, form: dict) -> Reply:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return self._error(400, "charge_not_refundable", "This PaymentIntent has no successful charge.")
        amount = int(form.get("amount") or intent["amount_received"])
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        if not 0 < amount <= intent["amount_received"] - refunded:
            return self._error(400, "amount_too_large", "Refund amount is greater than unrefunded amount on charge.")
        refund_id = "re_" + secrets.token_hex(12)
        self.refunds[refund_id] = {"id": refund_id, "object": "refund", "amount": amount, "currency": "cny",
                                   "payment_intent": intent["id"], "status": "succeeded",
                                   "metadata": form.get("metadata", {}), "created": int(time.time())}
        return self._json(200, self.refunds[refund_id])

    # --- the shopper confirming with a card -------------------------------------------------
    def event(self, kind: str, obj: dict, *, timestamp: int | None = None) -> tuple[bytes, dict]:
        body = json.dumps({"id": "evt_" + secrets.token_hex(12), "object": "event", "type": kind,
                           "api_version": "2026-01-01", "created": int(time.time()), "livemode": False,
                           "data": {"object": obj}}).encode()
        signature = stripe.WebhookSignature.generate_signature_header(body.decode(), self.webhook_secret,
                                                                       timestamp=timestamp)
        return body, {"Content-Type": "application/json", "Stripe-Signature": signature}

    def pay(self, pi_id: str, card: str = "4242424242424242") -> int:
        with self._lock:
            intent = self.intents[pi_id]
            if card == DECLINED_CARD:
                kind = "payment_intent.payment_failed"
                intent["last_payment_error"] = {"code": "card_declined", "decline_code": "generic_decline"}
            else:
                kind = "payment_intent.succeeded"
                intent.update(status="succeeded", amount_received=intent["amount"],
                              latest_charge="ch_" + secrets.token_hex(12))
            body, headers = self.event(kind, dict(intent))
        webhook = self._webhook_url or credentials.notify_base() + "/v1/payments/notify/card"
        return deliver(webhook, body, headers, lambda r: 200 <= r.status_code < 300)

    def _standin_call(self, path: str, body: bytes) -> Reply:
        data = json.loads(body or b"{}")
        pi_id = data.get("payment_intent") or data.get("client_secret", "").split("_secret_")[0]
        if path == "/standin/pay" and pi_id in self.intents:
            return Reply(200, json.dumps({"notified": self.pay(pi_id, data.get("card", ""))}).encode())
        return Reply(404, b'{"error":{"message":"unknown payment_intent or stand-in call"}}')


def from_environment() -> CardStandin:
    card = credentials.CardCredentials.load()
    return CardStandin(card.secret_key, card.webhook_secret, env("CARD_STANDIN_WEBHOOK_URL", ""))


if __name__ == "__main__":
    main(__doc__, 8095, from_environment)
