"""Counters that must never pass a bound under concurrency (a member's flash-sale units, a
member's coupons of one template, a quota): one conditional statement each, no read-then-write."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert


def add_within(session: Session, model, keys: dict, column: str, amount: int,
               limit: int | None) -> bool:
    """Adds `amount` to `model.column` of the row at `keys` (created at 0 if missing), unless the
    result would pass `limit` (None: unbounded). True when added. The row stays locked until the
    transaction ends, so concurrent callers for the same keys take turns."""
    if limit is not None and amount > limit:
        return False
    counter = getattr(model, column)
    insert = dialect_insert(session, model).values(**keys, **{column: amount})
    insert = insert.on_conflict_do_update(
        index_elements=list(keys), set_={column: counter + insert.excluded[column]},
        where=None if limit is None else counter + insert.excluded[column] <= limit)
    return session.execute(insert.returning(counter)).first() is not None


def take_within(session: Session, model, keys: dict, amount: int, *, taken: str, total: str,
                also=()) -> bool:
    """`taken += amount` on an existing row where that keeps `taken <= total` (and the conditions
    `also` hold). True when taken."""
    where = [getattr(model, k) == v for k, v in keys.items()] + list(also)
    counter = getattr(model, taken)
    result = session.execute(update(model).where(*where, counter + amount <= getattr(model, total))
                             .values({taken: counter + amount}).returning(counter))
    return result.first() is not None


def give_back(session: Session, model, keys: dict, column: str, amount: int) -> None:
    """`column -= amount` (never below 0: a release repeated by mistake cannot mint units)."""
    where = [getattr(model, k) == v for k, v in keys.items()]
    counter = getattr(model, column)
    session.execute(update(model).where(*where, counter >= amount).values({column: counter - amount}))
