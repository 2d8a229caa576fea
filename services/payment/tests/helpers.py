"""Small helpers shared by payment's tests."""
import json

from sqlalchemy import select

from services.payment.models import NotificationLog, PaymentIntent

SHOPPER = (("x-mall-user-id", "m-1"),)
STAFF = (("x-mall-user-id", "staff-1"), ("x-mall-roles", "operator"))
OPENID = "o-shopper-1"


def with_key(key: str, who=SHOPPER):
    return (*who, ("idempotency-key", key))


def outbox(runtime, event_type: str | None = None) -> list[dict]:
    with runtime.transaction() as session:
        query = select(runtime.outbox_table).order_by(runtime.outbox_table.c.id)
        if event_type:
            query = query.where(runtime.outbox_table.c.event_type == event_type)
        return [json.loads(row.body) for row in session.execute(query)]


def intent(runtime, intent_id: str) -> PaymentIntent:
    with runtime.transaction() as session:
        row = session.get(PaymentIntent, intent_id)
        session.expunge(row)
        return row


def log_rows(runtime) -> list[NotificationLog]:
    with runtime.transaction() as session:
        rows = list(session.scalars(select(NotificationLog).order_by(NotificationLog.id)))
        session.expunge_all()
        return rows
