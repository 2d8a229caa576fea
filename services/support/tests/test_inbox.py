"""The inbox: notices from order events, once each; a member reads and marks only their own."""
import pytest
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1.member_events_pb2 import ConsentChanged

from servicekit import consents
from servicekit.errors import InvalidArgument, NotFound
from services.support import inbox, messages
from services.support.models import Notification

PAID = order_events.OrderPaid(order_id="o-1", order_no="20261123000001", member_id="m-1",
                              paid_fen=1234567)
CANCELLED = order_events.OrderCancelled(order_id="o-2", order_no="20261123000002",
                                        member_id="m-1", reason="timeout")


def test_money_in_yuan_uses_integer_arithmetic():
    assert [messages.yuan(f) for f in (0, 5, 19900, 1234567, -250)] == \
        ["0.00", "0.05", "199.00", "12,345.67", "-2.50"]


def test_cancel_reasons_are_explained_and_unknown_ones_stay_neutral():
    assert "超时未支付" in messages.order_cancelled("N1", "timeout")[1]
    assert "N1" in messages.order_cancelled("N1", "fraud-check")[1]


def test_order_paid_and_cancelled_write_one_chinese_notice_each(runtime):
    with runtime.transaction() as session:
        paid = inbox.on_order_paid(session, PAID)
        cancelled = inbox.on_order_cancelled(session, CANCELLED)
    assert (paid.title, paid.order_id, paid.read_at) == ("支付成功", "o-1", None)
    assert "20261123000001" in paid.body and "¥12,345.67" in paid.body
    assert cancelled.title == "订单已取消" and "超时未支付" in cancelled.body
    with runtime.transaction() as session:  # the same fact again, under another event id
        assert inbox.on_order_paid(session, PAID) is None
        assert session.query(Notification).count() == 2


def test_a_notice_without_a_member_is_refused(runtime):
    with runtime.transaction() as session, pytest.raises(ValueError):
        inbox.on_order_paid(session, order_events.OrderPaid(order_id="o-9"))


def test_an_event_without_order_no_falls_back_to_the_order_id(runtime):
    with runtime.transaction() as session:
        notice = inbox.on_order_cancelled(session, order_events.OrderCancelled(
            order_id="o-7", member_id="m-1", reason="member"))
    assert "o-7" in notice.body and "您已取消" in notice.body


def seed(runtime, member_id, count):
    with runtime.transaction() as session:
        return [inbox.notify(session, member_id=member_id, kind="order_paid", order_id=f"o-{i}",
                             title="支付成功", body="…").id for i in range(count)]


def test_paging_is_newest_first_and_per_member(runtime):
    alice, bob = seed(runtime, "alice", 3), seed(runtime, "bob", 2)
    with runtime.transaction() as session:
        first = inbox.page(session, "alice", 2, None)
        assert [n.id for n in first] == list(reversed(alice))
        assert [n.id for n in inbox.page(session, "alice", 2, first[1].id)] == [alice[0]]
        assert {n.member_id for n in inbox.page(session, "bob", 10, None)} == {"bob"}
        assert inbox.unread_count(session, "alice") == 3 and inbox.unread_count(session, "bob") == 2
    assert bob


def test_mark_read_by_ids_counts_only_newly_read(runtime):
    ids = seed(runtime, "alice", 3)
    with runtime.transaction() as session:
        assert inbox.mark_read(session, "alice", [str(ids[0]), str(ids[1])], False) == 2
    with runtime.transaction() as session:
        assert inbox.mark_read(session, "alice", [str(ids[0])], False) == 0  # a retry
        assert inbox.unread_count(session, "alice") == 1
        unread = inbox.page(session, "alice", 10, None, unread_only=True)
        assert [n.id for n in unread] == [ids[2]]


def test_someone_elses_id_is_not_found_and_nothing_is_marked(runtime):
    mine, theirs = seed(runtime, "alice", 1), seed(runtime, "bob", 1)
    with runtime.transaction() as session, pytest.raises(NotFound):
        inbox.mark_read(session, "alice", [str(mine[0]), str(theirs[0])], False)
    with runtime.transaction() as session:
        assert inbox.unread_count(session, "alice") == 1 and inbox.unread_count(session, "bob") == 1


def test_mark_all_touches_only_the_callers_inbox(runtime):
    seed(runtime, "alice", 3)
    seed(runtime, "bob", 2)
    with runtime.transaction() as session:
        assert inbox.mark_read(session, "alice", [], True) == 3
    with runtime.transaction() as session:
        assert inbox.unread_count(session, "alice") == 0 and inbox.unread_count(session, "bob") == 2


@pytest.mark.parametrize("ids,everything,expected", [
    ([], False, {("ids", "exactly_one")}),
    (["1"], True, {("ids", "exactly_one")}),
    (["x1", "2", ""], False, {("ids[0]", "format"), ("ids[2]", "format")}),
    ([str(i) for i in range(101)], False, {("ids", "max_items")}),
])
def test_mark_read_input_is_validated(runtime, ids, everything, expected):
    with runtime.transaction() as session, pytest.raises(InvalidArgument) as err:
        inbox.mark_read(session, "alice", ids, everything)
    assert {(v.field, v.rule) for v in err.value.violations} == expected


def test_a_checkout_that_never_became_an_order_sends_no_notice(runtime):
    with runtime.transaction() as session:
        assert inbox.on_order_cancelled(session, order_events.OrderCancelled(
            order_id="o-8", member_id="m-1", reason="placement_failed")) is None
        assert inbox.unread_count(session, "m-1") == 0


def test_the_confirmation_and_every_later_status_reach_the_inbox_once(runtime):
    created = order_events.OrderCreated(order_id="o-5", order_no="20261124000005", member_id="m-1",
                                        payable_fen=43415, pay_deadline="2026-11-24T13:35:00Z")
    with runtime.transaction() as session:
        notice = inbox.on_order_created(session, created)
        assert notice.title == "订单已提交"
        assert "¥434.15" in notice.body and "21:35" in notice.body  # Shanghai time
        assert inbox.on_order_created(session, created) is None
        for status in ("paid", "shipped", "delivered", "completed", "pending_payment"):
            inbox.on_order_status_changed(session, order_events.OrderStatusChanged(
                order_id="o-5", order_no="20261124000005", member_id="m-1", to_status=status,
                summary="您的订单", discreet=True))
        titles = [n.title for n in inbox.page(session, "m-1", 10, None)]
    assert titles == ["订单已完成", "订单已送达", "订单已发货", "订单已提交"]


def test_a_discreet_order_names_no_product_and_a_timeout_says_so(runtime):
    with runtime.transaction() as session:
        shipped = inbox.on_order_status_changed(session, order_events.OrderStatusChanged(
            order_id="o-6", order_no="N-6", member_id="m-1", to_status="shipped", summary=""))
        cancelled = inbox.on_order_cancelled(session, order_events.OrderCancelled(
            order_id="o-6", order_no="N-6", member_id="m-1",
            reason="timeout: not paid within the payment window"))
    assert "您的订单" in shipped.body
    assert "超时未支付" in cancelled.body


def test_a_coupon_about_to_expire_is_one_notice_per_coupon(runtime):
    from mall.events.v1 import promotion_events_pb2 as promotion_events

    expiring = promotion_events.CouponExpiring(coupon_id="c-1", member_id="m-1", name="满199减30",
                                               valid_until="2026-11-26T15:59:00Z", amount_fen=3000)
    with runtime.transaction() as session:
        consents.apply(session, ConsentChanged(member_id="m-1", purpose="marketing", granted=True,
                                               version=1, changed_at="2026-11-01T00:00:00Z"))
        notice = inbox.on_coupon_expiring(session, expiring)
        assert inbox.on_coupon_expiring(session, expiring) is None
        other = inbox.on_coupon_expiring(session, promotion_events.CouponExpiring(
            coupon_id="c-2", member_id="m-1", name="内衣 9 折券", percent_off=10,
            valid_until="2026-11-27T15:59:00Z"))
    assert notice.title == "优惠券即将过期" and notice.coupon_id == "c-1"
    assert "满199减30（¥30.00）" in notice.body and "11月26日 23:59" in notice.body
    assert "9 折" in other.body


def refunded(refund_id: str, fen: int, full: bool = False) -> order_events.OrderRefunded:
    return order_events.OrderRefunded(order_id="o-9", order_no="20261204000009", member_id="m-1",
                                      refund_id=refund_id, refunded_fen=fen, paid_fen=41800,
                                      full=full)


def test_each_partial_refund_is_one_notice_and_a_full_one_is_left_to_the_status(runtime):
    with runtime.transaction() as session:
        first = inbox.on_order_refunded(session, refunded("r-1", 21900))
        assert inbox.on_order_refunded(session, refunded("r-1", 21900)) is None  # the same refund
        second = inbox.on_order_refunded(session, refunded("r-2", 19900))
        assert inbox.on_order_refunded(session, refunded("r-3", 0, full=True)) is None
        # the order's own refunded status still notifies once, beside the partial notices
        status = inbox.on_order_status_changed(session, order_events.OrderStatusChanged(
            order_id="o-9", order_no="20261204000009", member_id="m-1", to_status="refunded"))
        assert status is not None
        notices = inbox.page(session, "m-1", 10, None)
    assert [(n.kind, n.refund_id) for n in notices] == [
        ("order_refunded", ""), ("order_partly_refunded", "r-2"), ("order_partly_refunded", "r-1")]
    assert first.title == "部分退款成功" and "20261204000009" in first.body
    assert "¥219.00" in first.body and "¥199.00" in second.body
    assert first.order_id == second.order_id == "o-9"  # the shopper can open the order from it
