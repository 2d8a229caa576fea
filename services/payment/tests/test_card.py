"""Cards through the Stripe-protocol acquirer adapter and its stand-in: a PaymentIntent whose
client secret the client confirms; webhooks verified by Stripe-Signature within five minutes;
declines, refunds and reconciliation."""
import dataclasses
import json
import time
from datetime import timedelta

import pytest
import stripe
from mall.payment.v1 import payment_pb2

from services.payment import credentials, reconcile
from services.payment.providers import PrepayRequest, ProviderError
from services.payment.providers.card import CardAcquirer

from .helpers import STAFF, intent, log_rows, outbox, with_key


@pytest.fixture
def opened(stub, orders):
    orders.add("o-1", "m-1", 25900)
    return stub.CreatePayment(payment_pb2.CreatePaymentRequest(order_id="o-1", method="card"),
                              metadata=with_key("k-card"))


def confirm(providers, opened, card="4242424242424242"):
    return json.loads(providers.card.handle("POST", "/standin/pay", "", {}, json.dumps(
        {"client_secret": opened.card_client_secret, "card": card}).encode()).body)


def test_a_card_payment_is_a_payment_intent_confirmed_by_the_client(opened, providers, relay, runtime):
    pi_id = opened.intent.out_trade_no
    assert pi_id.startswith("pi_") and opened.card_client_secret.startswith(pi_id + "_secret_")
    assert (providers.card.intents[pi_id]["amount"], providers.card.intents[pi_id]["currency"]) == (25900, "cny")
    assert confirm(providers, opened) == {"notified": 200}
    assert relay.answers == [("card", 200, "applied")]
    assert intent(runtime, opened.intent.id).status == "succeeded"
    assert outbox(runtime, "payment.succeeded")[0]["data"]["providerTransactionId"] == pi_id


def test_forged_stale_and_future_webhooks_are_refused(opened, providers, stub, runtime):
    pi = {**providers.card.intents[opened.intent.out_trade_no], "status": "succeeded", "amount_received": 25900}
    body, headers = providers.card.event("payment_intent.succeeded", pi)
    cases = [
        (body.replace(b"25900", b"25901"), headers, "No signatures found matching"),
        (*providers.card.event("payment_intent.succeeded", pi, timestamp=int(time.time()) - 600), "tolerance"),
        (*providers.card.event("payment_intent.succeeded", pi, timestamp=int(time.time()) + 600), "future"),
        (body, {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
            body.decode(), "whsec_someone_else")}, "No signatures found matching"),
        (body, {}, "No Stripe-Signature header"),
        (*providers.card.event("payment_intent.succeeded", {**pi, "amount_received": 100}), "paid 100 CNY"),
    ]
    for raw, hdrs, _why in cases:
        answer = stub.HandleNotification(payment_pb2.HandleNotificationRequest(
            provider="card", headers=hdrs, raw_body=raw))
        assert answer.http_status >= 400 and answer.outcome == "refused"
    assert intent(runtime, opened.intent.id).status == "pending"
    for (_raw, _hdrs, why), row in zip(cases, log_rows(runtime), strict=True):
        assert why in row.reason, row.reason


def test_a_declined_card_fails_the_intent(opened, providers, runtime):
    confirm(providers, opened, card="4000000000000002")
    assert intent(runtime, opened.intent.id).status == "failed"
    assert outbox(runtime, "payment.failed")[0]["data"]["reason"] == "payment_failed"


def test_refund_and_reconciliation(opened, providers, stub, runtime):
    pi_id = opened.intent.out_trade_no
    providers.card.intents[pi_id].update(status="succeeded", amount_received=25900)  # webhook lost
    assert reconcile.run(runtime, older_than=timedelta(0)).settled == [opened.intent.id]
    refund = stub.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id="o-1", refund_request_id="card-r1", amount_fen=5000), metadata=STAFF)
    assert refund.status == "succeeded" and refund.provider_refund_id.startswith("re_")
    assert outbox(runtime, "payment.refunded")[0]["data"]["amountFen"] == "5000"


def test_a_wrong_secret_key_is_refused_by_the_acquirer(providers):
    wrong = CardAcquirer(dataclasses.replace(credentials.CardCredentials.load(), secret_key="sk_test_wrong"))
    with pytest.raises(ProviderError) as err:
        wrong.prepay(PrepayRequest("x" * 32, 100, "测试"))
    assert "Invalid API Key" in str(err.value) and not err.value.retryable
