"""A pre-sale order's notices (新品预售): the deposit paid, then the balance window opened — in the
inbox once each (redelivered or replayed), announced as notification.created so member pushes
it to WeChat; the order closed for an unpaid balance says so."""
from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import select

from servicekit.testing import deliver_in_process, outbox_events
from services.support.models import Notification

DEPOSIT = order_events.OrderDepositPaid(
    order_id="o-pre", order_no="20261111000001", member_id="m-1", deposit_fen=5000,
    balance_fen=19900, balance_from="2026-11-10T16:00:00Z", balance_until="2026-11-11T16:00:00Z",
    unpaid_balance="keep_deposit", status_seq=2)
DUE = order_events.OrderBalanceDue(
    order_id="o-pre", order_no="20261111000001", member_id="m-1", balance_fen=19900,
    balance_from="2026-11-10T16:00:00Z", balance_until="2026-11-11T16:00:00Z",
    unpaid_balance="refund_deposit", summary="云朵无痕文胸", status_seq=3)


def notices(runtime):
    with runtime.transaction() as session:
        return [(n.kind, n.title, n.body) for n in session.scalars(
            select(Notification).order_by(Notification.id))]


def test_deposit_then_balance_notice_once_each_and_pushed(runtime):
    first = deliver_in_process("support", "order", "order.deposit_paid", DEPOSIT)
    deliver_in_process("support", "order", "order.deposit_paid", DEPOSIT, event_id=first["id"])
    deliver_in_process("support", "order", "order.balance_due", DUE)
    deliver_in_process("support", "order", "order.balance_due", DUE)  # replayed, new id
    (deposit, due) = notices(runtime)
    assert deposit[:2] == ("order_deposit_paid", "定金支付成功")
    assert "尾款 ¥199.00 将于 11月11日 00:00 开始支付" in deposit[2] and "定金不退" in deposit[2]
    assert due[:2] == ("order_balance_due", "尾款待支付")
    assert "云朵无痕文胸" in due[2] and "11月12日 00:00 前" in due[2] and "定金原路退回" in due[2]
    pushed = [e["data"] for e in outbox_events(runtime, "notification.created")]
    assert [(p["kind"], p.get("consentPurpose", "")) for p in pushed] == \
        [("order_deposit_paid", ""), ("order_balance_due", "")]  # transactional: always sent


def test_closed_for_an_unpaid_balance(runtime):
    deliver_in_process("support", "order", "order.cancelled", order_events.OrderCancelled(
        order_id="o-pre", order_no="20261111000001", member_id="m-1", reason="balance_unpaid",
        deposit_paid_fen=5000, deposit_kept=True, status_seq=4))
    ((kind, _, body),) = notices(runtime)
    assert kind == "order_cancelled" and "预售尾款未在期限内支付" in body
