"""order.cancelled through the real broker and worker process: open intents close, once."""
from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import func, select

from services.payment import intents
from services.payment.models import PaymentIntent


def test_order_cancelled_cancels_open_intents_once_even_if_delivered_twice(
        runtime, worker_process, publish_event, wait_until):
    with runtime.transaction() as session:
        pi = intents.create_intent(session, order_id="o-1", member_id="m-1",
                                   method="wechat_jsapi", amount_fen=19900)
        other = intents.create_intent(session, order_id="o-2", member_id="m-1",
                                      method="card", amount_fen=5000)
    worker = worker_process("payment")
    cancelled = order_events.OrderCancelled(order_id="o-1", member_id="m-1", reason="timeout")
    envelope = publish_event("order", "order.cancelled", cancelled)
    publish_event("order", "order.cancelled", cancelled, event_id=envelope["id"])

    def status(intent_id):
        with runtime.transaction() as session:
            return session.get(PaymentIntent, intent_id).status

    wait_until(lambda: status(pi.id) == "cancelled", message="the intent was cancelled")
    # A sentinel on the same queue after the duplicate: once it is handled, so was the duplicate.
    publish_event("order", "order.cancelled",
                  order_events.OrderCancelled(order_id="o-2", member_id="m-1"))
    wait_until(lambda: status(other.id) == "cancelled", message="the sentinel was handled")
    with runtime.transaction() as session:
        announced = session.scalar(select(func.count()).select_from(runtime.outbox_table)
                                   .where(runtime.outbox_table.c.event_type == "payment.cancelled"))
    assert announced == 2  # one per intent: the duplicate delivery announced nothing
    assert "Traceback" not in worker.log()
