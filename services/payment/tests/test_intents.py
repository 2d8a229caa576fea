"""Payment intents on the database: creation rules, queries, cancellation with its event."""
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from servicekit.errors import InvalidArgument, NotFound
from services.payment import intents, states
from services.payment.models import PaymentIntent


def create(runtime, **overrides):
    args = dict(order_id="o-1", member_id="m-1", method="wechat_jsapi", amount_fen=19900)
    args.update(overrides)
    with runtime.transaction() as session:
        return intents.create_intent(session, **args)


def outbox(runtime):
    with runtime.transaction() as session:
        return [json.loads(row.body) for row in session.execute(
            select(runtime.outbox_table).order_by(runtime.outbox_table.c.id))]


def test_a_new_intent_is_created_in_cny(runtime):
    pi = create(runtime, method="alipay", installment_periods=6)
    assert (pi.status, pi.currency, pi.installment_periods) == ("created", "CNY", 6)


def test_invalid_intents_report_every_field_and_store_nothing(runtime):
    with pytest.raises(InvalidArgument) as err:
        create(runtime, order_id="", method="paypal", amount_fen=0)
    assert {(v.field, v.rule) for v in err.value.violations} == {
        ("order_id", "required"), ("method", "one_of"), ("amount_fen", "range")}
    with pytest.raises(InvalidArgument) as err:
        create(runtime, method="card", installment_periods=3)
    assert [(v.field, v.rule) for v in err.value.violations] == [("installment_periods", "alipay_only")]
    with pytest.raises(InvalidArgument) as err:
        create(runtime, method="alipay", installment_periods=24)
    assert [(v.field, v.rule) for v in err.value.violations] == [("installment_periods", "one_of")]
    with runtime.transaction() as session:
        assert session.scalars(select(PaymentIntent)).all() == []


def test_latest_for_order_is_the_newest_attempt(runtime):
    first = create(runtime)
    with runtime.transaction() as session:
        states.move(session.get(PaymentIntent, first.id), "failed")
    second = create(runtime, method="alipay")
    with runtime.transaction() as session:
        assert intents.latest_for_order(session, "o-1").id == second.id
        with pytest.raises(NotFound):
            intents.latest_for_order(session, "o-unknown")


def test_cancelling_an_order_closes_only_its_open_intent_and_announces_it(runtime):
    failed = create(runtime, method="card")
    with runtime.transaction() as session:
        states.move(session.get(PaymentIntent, failed.id), "failed")
    pending = create(runtime, method="alipay")
    other_order = create(runtime, order_id="o-2")
    with runtime.transaction() as session:
        states.move(session.get(PaymentIntent, pending.id), "pending")
    with runtime.transaction() as session:
        closed = intents.cancel_open_for_order(session, runtime, "o-1")
    assert [pi.id for pi in closed] == [pending.id]
    with runtime.transaction() as session:
        status = {pi.id: pi.status for pi in session.scalars(select(PaymentIntent))}
    assert status == {pending.id: "cancelled", failed.id: "failed", other_order.id: "created"}
    events = outbox(runtime)
    assert [(e["type"], e["data"]["paymentIntentId"], e["data"]["reason"]) for e in events] == \
        [("payment.cancelled", pending.id, "order_cancelled")]


def test_an_order_has_at_most_one_open_intent(runtime):
    create(runtime)
    with pytest.raises(IntegrityError):
        create(runtime, method="alipay")


def test_a_succeeded_intent_is_left_alone_when_its_order_is_cancelled(runtime):
    paid = create(runtime)
    with runtime.transaction() as session:
        pi = session.get(PaymentIntent, paid.id)
        states.move(pi, "pending")
        states.move(pi, "succeeded", provider_transaction_id="wx-1")
    with runtime.transaction() as session:
        assert intents.cancel_open_for_order(session, runtime, "o-1") == []
        assert session.get(PaymentIntent, paid.id).status == "succeeded"
    assert outbox(runtime) == []
