"""Order numbers people can read aloud: the Shanghai calendar day and a sequence within it,
e.g. 20261123000042. Handed out by one atomic upsert, so replicas never give one number twice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.times import SHANGHAI

from .models import OrderNumberDay

SEQUENCE_DIGITS = 6  # a million orders a day before the number grows a digit


def next_order_no(session: Session, now: datetime) -> str:
    return reserve_order_nos(session, now, 1)[0]


def reserve_order_nos(session: Session, now: datetime, count: int) -> list[str]:
    """`count` consecutive numbers of today in one upsert (an import reserves a batch's at once)."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    table = OrderNumberDay.__table__
    statement = dialect_insert(session, table).values(day=day, last=count)
    session.execute(statement.on_conflict_do_update(index_elements=[table.c.day],
                                                    set_={"last": table.c.last + count}))
    last = session.scalar(select(OrderNumberDay.last).where(OrderNumberDay.day == day))
    return [f"{day}{n:0{SEQUENCE_DIGITS}d}" for n in range(last - count + 1, last + 1)]
