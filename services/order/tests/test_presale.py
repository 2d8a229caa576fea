"""Pre-sale orders (新品预售): the deposit paid first, the order waiting (the unpaid-order timer
leaves it), the balance window opening with a notice, the balance paid in its window (order.paid
once, with the whole amount and the ship date), or the window closing unpaid (deposit kept or
refunded by the merchant's rule); duplicates, redeliveries and late payments harmless."""
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mall.promotion.v1 import promotion_pb2

from servicekit.errors import FailedPrecondition
from servicekit.testing import deliver_in_process, outbox_events
from services.order import orders, presale, views
from services.order.models import Order

from .orders_helpers import place, priced, succeeded

NOW = datetime.now(timezone.utc).replace(microsecond=0)
OPENS, CLOSES, RELEASE = NOW + timedelta(days=2), NOW + timedelta(days=4), NOW + timedelta(days=5)
DEPOSIT = 5000          # the two lines' deposits; payable 43415, so the balance is 38415


def terms(rule=presale.KEEP_DEPOSIT, **changes):
    base = dict(campaign_id="7", deposit_fen=DEPOSIT, balance_from=OPENS, balance_until=CLOSES,
                release_at=RELEASE, unpaid_balance=rule)
    return presale.Terms(**{**base, **changes})


def place_presale(runtime, rule=presale.KEEP_DEPOSIT, member_id="m-1", **changes):
    from dataclasses import replace
    return place(runtime, member_id, now=NOW, pricing=replace(priced(), presale=terms(rule, **changes)))


def order_of(runtime, order_id) -> Order:
    with runtime.transaction() as session:
        order = session.get(Order, order_id)
        session.expunge(order)
        return order


def pay(runtime, order_id, amount, phase, intent, txn="wx-1"):
    message = succeeded(order_id, amount, intent=intent)
    message.phase, message.provider_transaction_id = phase, txn
    with runtime.transaction() as session:
        return orders.on_payment_succeeded(session, runtime, message)


def timers(runtime, now):
    with runtime.transaction() as session:
        opened = presale.open_balance_windows(session, runtime, now)
    with runtime.transaction() as session:
        closed = presale.close_unpaid_balances(session, runtime, now)
    return opened, closed


def balance(runtime, order_id):
    order = order_of(runtime, order_id)
    return order.payable_fen - order.deposit_fen


def test_the_quote_terms_become_the_orders(runtime):
    order = order_of(runtime, place_presale(runtime))
    assert (order.status, order.deposit_fen, order.unpaid_balance) == ("pending_payment", DEPOSIT,
                                                                       "keep_deposit")
    assert (order.balance_from, order.balance_until, order.release_at) == (OPENS, CLOSES, RELEASE)
    due = presale.due_now(order, NOW)
    assert (due.phase, due.amount_fen) == ("deposit", DEPOSIT)
    view = presale.view(order, NOW)
    assert (view.phase, view.due_now_fen, view.balance_fen) == ("deposit_due", DEPOSIT, 43415 - DEPOSIT)
    assert view.unpaid_balance_text == "尾款未在期限内支付，订单关闭，定金不退"


def test_terms_of_a_quote_and_mixed_carts_refused():
    def line(n, campaign="", deposit=0):
        quoted = promotion_pb2.QuotedLine(line_id=str(n), sku_id=f"sku-{n}", payable_fen=20000,
                                          presale_campaign_id=campaign, deposit_fen=deposit)
        if campaign:
            at = Timestamp()
            at.FromDatetime(OPENS)
            quoted.presale.balance_from.CopyFrom(at)
            at.FromDatetime(CLOSES)
            quoted.presale.balance_until.CopyFrom(at)
            at.FromDatetime(RELEASE)
            quoted.presale.release_at.CopyFrom(at)
            quoted.presale.unpaid_balance = "refund_deposit"
        return quoted
    assert presale.terms_of(promotion_pb2.QuoteResponse(lines=[line(1)])) is None
    got = presale.terms_of(promotion_pb2.QuoteResponse(lines=[line(1, "7", 3000), line(2, "7", 2000)]))
    assert got == presale.Terms("7", 5000, OPENS, CLOSES, RELEASE, "refund_deposit")
    with pytest.raises(FailedPrecondition) as err:
        presale.terms_of(promotion_pb2.QuoteResponse(lines=[line(1, "7", 3000), line(2)]))
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[1].sku_id", "presale_alone")]


def test_deposit_then_waiting_the_unpaid_order_timer_leaves_it(runtime):
    order_id = place_presale(runtime)
    assert pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    assert not pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")  # a duplicate
    order = order_of(runtime, order_id)
    assert (order.status, order.deposit_paid_fen, order.paid_fen) == ("deposit_paid", DEPOSIT, 0)
    (event,) = outbox_events(runtime, "order.deposit_paid")
    assert event["data"]["depositFen"] == str(DEPOSIT)
    assert event["data"]["holdUntil"] > event["data"]["balanceUntil"]
    assert event["data"]["statusSeq"] == "2"
    with runtime.transaction() as session:  # long past the deposit's pay window
        assert orders.cancel_overdue(session, runtime, NOW + timedelta(hours=3)) == 0
    assert order_of(runtime, order_id).status == "deposit_paid"
    assert not outbox_events(runtime, "order.paid")  # logistics ships nothing yet


def test_the_balance_before_its_window_is_refused_saying_when_it_opens(runtime):
    order_id = place_presale(runtime)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    with runtime.transaction() as session:
        with pytest.raises(FailedPrecondition) as err:
            views.payable(session, "m-1", order_id)
    (violation,) = err.value.violations
    assert (violation.field, violation.rule) == ("order_id", "balance_not_open")
    assert "opens at" in violation.description
    # once it opened: the balance is what is due, its deadline the window's end
    order = order_of(runtime, order_id)
    due = presale.due_now(order, OPENS)
    assert (due.phase, due.amount_fen, due.deadline) == ("balance", 43415 - DEPOSIT, CLOSES)
    with pytest.raises(FailedPrecondition) as err:
        presale.due_now(order, CLOSES)
    assert err.value.violations[0].rule == "balance_closed"


def test_window_opens_with_a_notice_once_then_the_balance_pays_the_whole_order(runtime):
    order_id = place_presale(runtime)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    assert timers(runtime, OPENS - timedelta(seconds=1)) == (0, 0)
    assert timers(runtime, OPENS) == (1, 0)
    assert timers(runtime, OPENS + timedelta(minutes=1)) == (0, 0)  # once
    (notice,) = outbox_events(runtime, "order.balance_due")
    assert notice["data"]["balanceFen"] == str(43415 - DEPOSIT)
    assert order_of(runtime, order_id).status == "balance_due"
    assert pay(runtime, order_id, 43415 - DEPOSIT, "balance", "pi-bal", txn="wx-2")
    assert not pay(runtime, order_id, 43415 - DEPOSIT, "balance", "pi-bal", txn="wx-2")
    order = order_of(runtime, order_id)
    assert (order.status, order.paid_fen) == ("paid", 43415)
    (paid,) = outbox_events(runtime, "order.paid")
    assert paid["data"]["paidFen"] == "43415" and paid["data"]["depositFen"] == str(DEPOSIT)
    assert paid["data"]["shipsFrom"] == presale.rfc3339(RELEASE)
    seqs = [int(e["data"]["statusSeq"]) for e in outbox_events(runtime)
            if e["type"].startswith("order.") and "statusSeq" in e["data"]]
    assert seqs == sorted(seqs)
    assert timers(runtime, CLOSES + timedelta(days=1)) == (0, 0)  # paid: not closed


def test_a_balance_heard_before_the_opening_timer_still_records_the_window(runtime):
    order_id = place_presale(runtime)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    assert pay(runtime, order_id, 43415 - DEPOSIT, "balance", "pi-bal", txn="wx-2")
    with runtime.transaction() as session:
        assert [c.to_status for c in views.order_view(session, session.get(Order, order_id),
                                                      detail=True).timeline] == \
            ["deposit_paid", "balance_due", "paid"]
    with pytest.raises(FailedPrecondition):  # another amount is a bug somewhere: refused
        pay(runtime, place_presale(runtime, member_id="m-2"), 1, "deposit", "pi-x")


@pytest.mark.parametrize("rule, kept", [(presale.KEEP_DEPOSIT, True), (presale.REFUND_DEPOSIT, False)])
def test_an_unpaid_balance_cancels_the_order_keeping_or_refunding_the_deposit(runtime, rule, kept):
    order_id = place_presale(runtime, rule)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    timers(runtime, OPENS)
    assert timers(runtime, CLOSES) == (0, 1)
    assert timers(runtime, CLOSES + timedelta(minutes=1)) == (0, 0)  # once
    assert order_of(runtime, order_id).status == "cancelled"
    (cancelled,) = outbox_events(runtime, "order.cancelled")
    assert cancelled["data"]["reason"] == presale.BALANCE_UNPAID
    assert cancelled["data"].get("depositKept", False) is kept
    assert cancelled["data"]["depositPaidFen"] == str(DEPOSIT)
    # the balance paid after the window closed: order stays cancelled (payment refunds it)
    assert not pay(runtime, order_id, 43415 - DEPOSIT, "balance", "pi-late", txn="wx-late")
    assert order_of(runtime, order_id).status == "cancelled"


def test_a_deposit_never_paid_is_cancelled_by_the_pay_timer_as_any_order(runtime):
    order_id = place_presale(runtime)
    with runtime.transaction() as session:
        assert orders.cancel_overdue(session, runtime, NOW + timedelta(hours=1)) == 1
    (cancelled,) = outbox_events(runtime, "order.cancelled")
    assert not cancelled["data"].get("depositKept") and cancelled["data"].get("depositPaidFen", "0") == "0"
    assert not pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")  # a late deposit: refunded by payment


def test_the_shopper_cannot_cancel_once_the_deposit_is_paid_staff_can(runtime):
    order_id = place_presale(runtime, presale.KEEP_DEPOSIT)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    with runtime.transaction() as session:
        with pytest.raises(FailedPrecondition) as err:
            orders.cancel(session, runtime, orders.lock(session, order_id), actor="member:m-1",
                          reason="changed my mind")
    assert err.value.violations[0].rule == "deposit_paid"
    with runtime.transaction() as session:
        orders.cancel(session, runtime, orders.lock(session, order_id), actor="staff:s-1",
                      reason="out of stock at the factory")
    (cancelled,) = outbox_events(runtime, "order.cancelled")
    assert not cancelled["data"].get("depositKept")  # staff: everything goes back


def test_the_worker_takes_redelivered_payments_once(runtime):
    order_id = place_presale(runtime)
    message = succeeded(order_id, DEPOSIT, intent="pi-dep")
    message.phase = "deposit"
    for _ in range(2):
        deliver_in_process("order", "payment", "payment.succeeded", message, event_id="e-pay-1")
    deliver_in_process("order", "payment", "payment.succeeded", message, event_id="e-pay-2")
    assert len(outbox_events(runtime, "order.deposit_paid")) == 1


def test_the_to_pay_tab_lists_a_presale_waiting_for_its_balance(runtime):
    order_id = place_presale(runtime)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    from mall.order.v1 import order_pb2
    with runtime.transaction() as session:
        listed = views.list_members_orders(session, "m-1", "to_pay", order_pb2.ListMyOrdersRequest().page)
    (view,) = listed.orders
    assert (view.status, view.presale.phase, view.presale.deposit_paid_fen) == \
        ("deposit_paid", "waiting_for_balance", DEPOSIT)


def test_an_erased_member_s_presale_waiting_for_its_balance_is_cancelled_deposit_refunded(runtime):
    from services.order import erasure
    order_id = place_presale(runtime, presale.KEEP_DEPOSIT)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    with runtime.transaction() as session:
        erasure.erase_member(session, runtime, "m-1")
    assert order_of(runtime, order_id).status == "cancelled"
    (cancelled,) = outbox_events(runtime, "order.cancelled")
    assert not cancelled["data"].get("depositKept")


def refunded(runtime, order_id, refund_id, amount, intent_total, intent_paid):
    from mall.events.v1 import payment_events_pb2 as payments
    message = payments.PaymentRefunded(order_id=order_id, refund_id=refund_id, amount_fen=amount,
                                       refunded_total_fen=intent_total, paid_fen=intent_paid,
                                       full=intent_total == intent_paid)
    with runtime.transaction() as session:
        return orders.on_payment_refunded(session, runtime, message)


def test_both_payments_refunded_in_any_order_add_up_to_the_whole(runtime):
    """Staff cancel a paid pre-sale: payment refunds its deposit and its balance, two refunds each
    with its own intent's running total, heard in any order."""
    order_id = place_presale(runtime)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    pay(runtime, order_id, 43415 - DEPOSIT, "balance", "pi-bal", txn="wx-2")
    assert refunded(runtime, order_id, "rf-bal", 43415 - DEPOSIT, 43415 - DEPOSIT, 43415 - DEPOSIT)
    order = order_of(runtime, order_id)
    assert (order.refunded_fen, order.status) == (43415 - DEPOSIT, "paid")  # not the whole order
    assert refunded(runtime, order_id, "rf-dep", DEPOSIT, DEPOSIT, DEPOSIT)
    order = order_of(runtime, order_id)
    assert (order.refunded_fen, order.status) == (43415, "refunded")
    assert [e["data"]["full"] for e in outbox_events(runtime, "order.refunded")] == [False, True]


def test_a_refunded_deposit_of_a_closed_presale_is_recorded(runtime):
    order_id = place_presale(runtime, presale.REFUND_DEPOSIT)
    pay(runtime, order_id, DEPOSIT, "deposit", "pi-dep")
    timers(runtime, CLOSES)
    assert refunded(runtime, order_id, "rf-dep", DEPOSIT, DEPOSIT, DEPOSIT)
    order = order_of(runtime, order_id)
    assert (order.status, order.refunded_fen) == ("cancelled", DEPOSIT)
    (event,) = outbox_events(runtime, "order.refunded")
    assert (event["data"]["full"], event["data"]["paidFen"]) == (True, str(DEPOSIT))
