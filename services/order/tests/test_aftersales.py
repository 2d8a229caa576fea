"""After-sale requests on the order and its lines, from support's aftersale.* events through the
worker's handlers (the kit's inbox): the newest state by the flow's order whatever order they
arrive in; a redelivery or a late event changes nothing; the refunded money on a line stays
payment.refunded's."""
from mall.events.v1 import payment_events_pb2 as payments
from mall.events.v1 import support_events_pb2 as support

from servicekit.testing import deliver_in_process, outbox_events
from services.order import orders, views

from .orders_helpers import place, succeeded
from .test_lifecycle import apply

PAID = 43415


def lines(order_id, refund_fen=0, quantity=1):
    return [support.AfterSaleLine(line_id=f"{order_id}-1", sku_id="sku-75b-black", product_id="p-1",
                                  quantity=quantity, refund_fen=refund_fen, size="75B")]


def applied(order_id, request_id="as-1"):
    return support.AfterSaleApplied(request_id=request_id, order_id=order_id, member_id="m-1",
                                    kind="return_refund", reason_code="wrong_size",
                                    lines=lines(order_id), applied_at="2026-12-05T00:10:00Z")


def approved(order_id, request_id="as-1"):
    return support.AfterSaleApproved(request_id=request_id, order_id=order_id, member_id="m-1",
                                     kind="return_refund", lines=lines(order_id), return_expected=True)


def refund_requested(order_id, request_id="as-1"):
    return support.AfterSaleRefundRequested(
        request_id=request_id, order_id=order_id, member_id="m-1",
        refund_request_id=f"aftersale:{request_id}", amount_fen=18905,
        lines=lines(order_id, 18905))


def closed(order_id, request_id="as-1", outcome="refunded"):
    return support.AfterSaleClosed(request_id=request_id, order_id=order_id, member_id="m-1",
                                   kind="return_refund", outcome=outcome, lines=lines(order_id, 18905),
                                   refunded_fen=18905 if outcome == "refunded" else 0,
                                   reason_code="wrong_size")


def send(event_type, message, event_id):
    deliver_in_process("order", "support", event_type, message, event_id=event_id)


def shown(runtime, order_id):
    with runtime.transaction() as session:
        return views.order_view(session, orders.lock(session, order_id, for_update=False), detail=True)


def paid_order(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, PAID))
    return order_id


def test_the_request_moves_through_its_states_on_the_order_and_its_line(runtime):
    order_id = paid_order(runtime)
    send("aftersale.applied", applied(order_id), "e-1")
    view = shown(runtime, order_id)
    [request] = view.aftersales
    assert (request.request_id, request.kind, request.state, request.reason_code, request.quantity) == \
        ("as-1", "return_refund", "applied", "wrong_size", 1)
    assert request.applied_at == "2026-12-05T00:10:00Z"
    [on_line] = view.lines[0].aftersales
    assert (on_line.request_id, on_line.state, on_line.quantity) == ("as-1", "applied", 1)
    assert list(view.lines[1].aftersales) == []

    send("aftersale.approved", approved(order_id), "e-2")
    send("aftersale.refund_requested", refund_requested(order_id), "e-3")
    assert shown(runtime, order_id).aftersales[0].state == "refund_requested"
    assert shown(runtime, order_id).aftersales[0].refund_fen == 18905
    # payment refunds the line: the refunded money is payment.refunded's, as before
    apply(runtime, orders.on_payment_refunded, payments.PaymentRefunded(
        order_id=order_id, refund_id="r-1", refund_request_id="aftersale:as-1", amount_fen=18905,
        refunded_total_fen=18905, paid_fen=PAID,
        lines=[payments.PaymentRefundLine(line_id=f"{order_id}-1", quantity=1, amount_fen=18905)]))
    send("aftersale.closed", closed(order_id), "e-4")
    view = shown(runtime, order_id)
    [request] = view.aftersales
    assert (request.state, request.outcome, request.refunded_fen, request.kind) == \
        ("closed", "refunded", 18905, "return_refund")
    assert (view.lines[0].refunded_fen, view.lines[0].refunded_quantity) == (18905, 1)
    [on_line] = view.lines[0].aftersales
    assert (on_line.state, on_line.refund_fen, on_line.refunded_fen) == ("closed", 18905, 18905)


def test_late_and_repeated_events_never_move_it_back(runtime):
    order_id = paid_order(runtime)
    send("aftersale.closed", closed(order_id, outcome="refused"), "e-4")       # heard first
    send("aftersale.refund_requested", refund_requested(order_id), "e-3")
    send("aftersale.approved", approved(order_id), "e-2")
    send("aftersale.applied", applied(order_id), "e-1")                        # heard last
    send("aftersale.applied", applied(order_id), "e-1")                        # redelivered
    send("aftersale.applied", applied(order_id), "e-9")                        # again, new id
    [request] = shown(runtime, order_id).aftersales
    assert (request.state, request.outcome, request.kind, request.reason_code) == \
        ("closed", "refused", "return_refund", "wrong_size")
    assert request.applied_at == "2026-12-05T00:10:00Z"   # the late event fills what was blank


def test_a_refund_requested_before_the_application_keeps_the_kind_when_it_comes(runtime):
    order_id = paid_order(runtime)
    send("aftersale.refund_requested", refund_requested(order_id), "e-3")
    assert shown(runtime, order_id).aftersales[0].kind == ""
    send("aftersale.applied", applied(order_id), "e-1")
    [request] = shown(runtime, order_id).aftersales
    assert (request.state, request.kind, request.refund_fen) == ("refund_requested", "return_refund", 18905)


def test_requests_are_kept_apart_and_summaries_carry_none(runtime):
    order_id = paid_order(runtime)
    send("aftersale.applied", applied(order_id, "as-1"), "e-1")
    send("aftersale.applied", applied(order_id, "as-2"), "e-2")
    send("aftersale.closed", closed(order_id, "as-1", outcome="withdrawn"), "e-3")
    assert sorted((r.request_id, r.state) for r in shown(runtime, order_id).aftersales) == \
        [("as-1", "closed"), ("as-2", "applied")]
    with runtime.transaction() as session:
        [summary] = views.summaries(session, [orders.lock(session, order_id, for_update=False)])
        assert list(summary.aftersales) == []


def test_an_exchange_closes_without_any_refund_or_order_event(runtime):
    """What member's points hang on: an exchange is shown, but no order.refunded is announced."""
    order_id = paid_order(runtime)
    before = len(outbox_events(runtime))
    exchange = support.AfterSaleClosed(request_id="as-x", order_id=order_id, member_id="m-1",
                                       kind="exchange", outcome="exchanged", lines=lines(order_id))
    send("aftersale.closed", exchange, "e-x")
    [request] = shown(runtime, order_id).aftersales
    assert (request.kind, request.outcome, request.refunded_fen) == ("exchange", "exchanged", 0)
    assert len(outbox_events(runtime)) == before
    assert outbox_events(runtime, "order.refunded") == []


def test_two_after_sale_refunds_heard_in_reverse_order_both_count_once(runtime):
    """Payment refunds two requests of one order close together; order's worker may hear the
    later payment.refunded first: each refund counts once on its line, however it arrives."""
    order_id = paid_order(runtime)

    def refunded(refund_id, line_no, amount, total):
        return payments.PaymentRefunded(
            order_id=order_id, refund_id=refund_id, refund_request_id=f"aftersale:{refund_id}",
            amount_fen=amount, refunded_total_fen=total, paid_fen=PAID, full=total >= PAID,
            lines=[payments.PaymentRefundLine(line_id=f"{order_id}-{line_no}", quantity=1,
                                              amount_fen=amount)])

    later = refunded("r-2", 2, 5605, 18905 + 5605)
    earlier = refunded("r-1", 1, 18905, 18905)
    deliver_in_process("order", "payment", "payment.refunded", later, event_id="p-2")
    deliver_in_process("order", "payment", "payment.refunded", earlier, event_id="p-1")
    deliver_in_process("order", "payment", "payment.refunded", earlier, event_id="p-1-again")
    view = shown(runtime, order_id)
    assert view.refunded_fen == 18905 + 5605
    assert [(line.refunded_fen, line.refunded_quantity) for line in view.lines] == [(18905, 1), (5605, 1)]
    assert [e["data"]["refundId"] for e in outbox_events(runtime, "order.refunded")] == ["r-2", "r-1"]


def test_the_refund_completing_the_order_heard_first_refunds_it_once(runtime):
    order_id = paid_order(runtime)
    last = payments.PaymentRefunded(order_id=order_id, refund_id="r-2", amount_fen=PAID - 18905,
                                    refunded_total_fen=PAID, paid_fen=PAID, full=True)
    first = payments.PaymentRefunded(order_id=order_id, refund_id="r-1", amount_fen=18905,
                                     refunded_total_fen=18905, paid_fen=PAID)
    deliver_in_process("order", "payment", "payment.refunded", last, event_id="p-2")
    deliver_in_process("order", "payment", "payment.refunded", first, event_id="p-1")
    view = shown(runtime, order_id)
    assert (view.status, view.refunded_fen) == ("refunded", PAID)
    assert [c.to_status for c in view.timeline].count("refunded") == 1
