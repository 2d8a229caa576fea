"""A reminder queued while the member still consented, and handled after she withdrew, is not
written: consent is checked when a notice is handled, not when it was asked for."""
from mall.events.v1 import promotion_events_pb2 as promotion_events
from mall.events.v1.member_events_pb2 import ConsentChanged
from sqlalchemy import select

from servicekit import consents
from servicekit.testing import outbox_events
from services.support import marketing
from services.support.models import Notification


def say(runtime, granted: bool, version: int) -> None:
    with runtime.transaction() as session:
        consents.apply(session, ConsentChanged(member_id="m-1", purpose="marketing",
                                               granted=granted, version=version))


def test_a_reminder_queued_before_the_withdrawal_and_handled_after_is_not_sent(
        runtime, worker_process, publish_event, wait_until):
    worker_process("support").stop()  # its queues declared and emptied; nobody consumes now
    say(runtime, True, 1)
    queued = publish_event("promotion", "coupon.expiring", promotion_events.CouponExpiring(
        coupon_id="c-1", member_id="m-1", name="满199减30", amount_fen=3000,
        valid_until="2026-12-31T15:59:00Z"))
    say(runtime, False, 2)  # the withdrawal, as the worker would keep it
    worker_process("support")  # started again (not emptied this time): the reminder's turn

    def handled():
        with runtime.transaction() as session:
            return session.scalar(select(runtime.inbox_table.c.event_id).where(
                runtime.inbox_table.c.event_id == queued["id"]))

    wait_until(handled, timeout=20, message="the queued reminder handled")
    with runtime.transaction() as session:
        assert session.scalars(select(Notification)).all() == []
    assert outbox_events(runtime, "notification.created") == []


def test_which_kinds_need_consent():
    assert marketing.consent_purpose("coupon_expiring") == "marketing"
    for transactional in ("order_created", "order_paid", "order_shipped", "order_cancelled",
                          "order_refunded", "order_partly_refunded"):
        assert marketing.consent_purpose(transactional) == ""
