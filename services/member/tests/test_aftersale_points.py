"""After-sales and points: an after-sale refund reaches member as order's order.refunded (order
publishes it on payment.refunded of `aftersale:<request>`), and claws back the refunded share of
the order's points, once however often delivered; an exchange refunds nothing, so no
order.refunded comes and the points stay as earned."""
from mall.events.v1 import order_events_pb2

from servicekit.testing import deliver_in_process

from .test_points import assert_consistent
from .test_points_events import entries_of

PAID = 43_415


def test_a_partial_after_sale_refund_claws_back_its_share_and_an_exchange_none(member_runtime, shopper):
    member_id, _ = shopper("aftersale")
    deliver_in_process("member", "order", "order.paid", order_events_pb2.OrderPaid(
        order_id="o-as", order_no="NOAS", member_id=member_id, paid_fen=PAID,
        paid_at="2026-12-01T12:00:00Z"), event_id="e-paid")
    [earn] = entries_of(member_runtime, member_id, "earn")
    assert earn.points == 40   # 4 whole ¥100 × 10

    # the size exchange of one line: support closes it exchanged, payment refunds nothing, order
    # publishes no order.refunded: nothing reaches member, the points stay as earned
    assert entries_of(member_runtime, member_id, "clawback") == []
    assert assert_consistent(member_runtime, member_id) == 40

    # return and refund of one bra: 18,905 of 43,415 fen back
    refunded = order_events_pb2.OrderRefunded(
        order_id="o-as", order_no="NOAS", member_id=member_id, refund_id="r-aftersale-1",
        refunded_fen=18_905, paid_fen=PAID,
        lines=[order_events_pb2.RefundedLine(line_id="o-as-1", quantity=1, refunded_fen=18_905)])
    deliver_in_process("member", "order", "order.refunded", refunded, event_id="e-ref")
    deliver_in_process("member", "order", "order.refunded", refunded, event_id="e-ref")  # redelivered
    [claw] = entries_of(member_runtime, member_id, "clawback")
    assert claw.points == -(40 * 18_905 // PAID)   # -17: in proportion, rounded down
    assert assert_consistent(member_runtime, member_id) == 40 - 17

    # the rest refunded by a second request: the order is refunded in full, every point back
    deliver_in_process("member", "order", "order.refunded", order_events_pb2.OrderRefunded(
        order_id="o-as", member_id=member_id, refund_id="r-aftersale-2", refunded_fen=PAID - 18_905,
        paid_fen=PAID, full=True), event_id="e-ref-2")
    assert sorted(e.points for e in entries_of(member_runtime, member_id, "clawback")) == [-23, -17]
    assert assert_consistent(member_runtime, member_id) == 0
