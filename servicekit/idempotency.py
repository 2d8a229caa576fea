"""Idempotency keys: a create that a client or a saga step may retry does its work once per key.
The first call with a key does the work; a retry with the same key and the same request gets the
first answer and changes nothing; the same key with another request is refused (`reused`:
FAILED_PRECONDITION, which the gateway answers with 409, naming the key and what to do).
A malformed key is INVALID_ARGUMENT (`check_key`: 1 to 128 printable ASCII characters, no space).

Two shapes, one rule and one refusal:

- A stored answer, `run_once(session, scope=, key=, request=, response_type=, work=)`: the answer
  of `work()` (a protobuf message, or anything with its FromString/SerializeToString) is kept in
  the kit's table `idempotent_requests` under (scope, key) with a digest of the request. A
  service opts in with `add_to(Base.metadata)` in its models and
  `migration_ops.create_idempotency_table_v1()` in a revision; a worker timer may call `purge` to
  forget keys after a day.
- A key kept on the row the create made, `create_once(session, key=, find=, same=, create=)`:
  e.g. an order with a unique (member_id, idempotency_key). `find()` looks the row up by its key,
  `same(row)` says whether that row was made by this very request (a stored request fingerprint,
  or the fields that matter), `create()` makes the row (with its key) and returns it. The answer is
  (row, True) when made now, (row, False) for a retry. A saga step keyed by an order id passes
  `field="order_id"`, so the refusal names that field. Where the domain already serialises the
  creates of one key under its own locks (a reservation under its SKUs' locks), `replay(row,
  key=, same=)` is the comparison alone.

Concurrency: two calls with one key never both do the work. In `run_once` the claim row is
written in the caller's transaction before the work runs, so the second call queues on its primary
key: it then sees the first's answer, or the claim is gone with the first's rollback and it does
the work itself. In `create_once` the row's unique key does the same: `create()` runs in a
savepoint, a second insert of the key waits for the first transaction and then fails, and the row
the first one committed is replayed.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol, Self, TypeVar, cast

from sqlalchemy import Column, DateTime, Index, LargeBinary, MetaData, String, Table, delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import dialect_insert
from .errors import FailedPrecondition, FieldViolation, InvalidArgument

TABLE = "idempotent_requests"
KEPT = timedelta(hours=24)  # longer than any client retries
KEY_FIELD = "idempotency-key"  # the metadata a client's key travels in
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


class Stored(Protocol):
    """What `run_once` keeps: a protobuf message, or anything with the same two methods."""
    def SerializeToString(self) -> bytes: ...

    @classmethod
    def FromString(cls, data: bytes) -> Self: ...


S = TypeVar("S", bound=Stored)
R = TypeVar("R")


def add_to(metadata: MetaData) -> Table:
    table = Table(
        TABLE, metadata,
        Column("scope", String(200), primary_key=True),  # operation and caller, e.g. "cart.add:m-1"
        Column("key", String(128), primary_key=True),
        Column("fingerprint", String(64), nullable=False),  # digest of the request the key was used for
        Column("response", LargeBinary, nullable=True),  # the serialized answer
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Index("ix_idempotent_requests_created_at", table.c.created_at)
    return table


# The statements' own copy of the table, whatever metadata a service declared it in.
_TABLE = add_to(MetaData())


def check_key(key: str, field: str = KEY_FIELD) -> None:
    """The one rule for keys; an empty key means "no key" and passes."""
    if key and not _KEY.match(key):
        raise InvalidArgument(f"the {field} is malformed", [FieldViolation(
            field, "format", "1 to 128 printable ASCII characters without spaces, e.g. a UUID")])


def reused(key: str, field: str = KEY_FIELD) -> FailedPrecondition:
    """The one refusal of a key that was already used for a different request."""
    return FailedPrecondition(
        f"{field} {key!r} was already used for a different request",
        [FieldViolation(field, "reused", f"send a new {field} for a new request; reuse one only "
                                         "to retry exactly the same request")])


def digest(request: object) -> str:
    """A digest of a request (anything JSON can hold): the same request gives the same digest."""
    raw = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _first_digest(request: object) -> str:
    # Keys claimed by the kit's first version hold this shorter digest; purge forgets them a day
    # after the upgrade, and until then their retries are still answered.
    raw = json.dumps([request], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def run_once(session: Session, *, scope: str, key: str, request: object,
             response_type: type[S], work: Callable[[], S]) -> S:
    """Shape (a): `work()` once per (scope, key), its answer stored; without a key it simply runs.
    `request` is what makes two calls the same request (a dict of the request's fields)."""
    if not key:
        return work()
    check_key(key)
    table = _TABLE
    fingerprint = digest(request)
    # Session.execute is typed Result; for DML it is a CursorResult, which has the rowcount
    claimed = cast(CursorResult, session.execute(
        dialect_insert(session, table)
        .values(scope=scope, key=key, fingerprint=fingerprint, response=None,
                created_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing())).rowcount
    if not claimed:
        row = session.execute(select(table.c.fingerprint, table.c.response)
                              .where(table.c.scope == scope, table.c.key == key)).one()
        if row.fingerprint not in (fingerprint, _first_digest(request)):
            raise reused(key)
        return response_type.FromString(row.response)
    result = work()
    session.execute(update(table).where(table.c.scope == scope, table.c.key == key)
                    .values(response=result.SerializeToString()))
    return result


def replay(row: R, *, key: str, same: bool, field: str = KEY_FIELD) -> R:
    """Shape (b), the comparison alone: the row an earlier call with `key` made, when `same` (it
    was made by this very request); else the refusal."""
    if not same:
        raise reused(key, field)
    return row


def create_once(session: Session, *, key: str, find: Callable[[], R | None],
                same: Callable[[R], bool], create: Callable[[], R],
                field: str = KEY_FIELD) -> tuple[R, bool]:
    """Shape (b): the row this request makes, made once per key. `find()` looks the row up by the
    key, `same(row)` compares it with this request, `create()` writes it (with the key, in a unique
    column) and returns it. (row, True) when made now; (row, False) for a retry. Without a key
    `create()` simply runs."""
    if not key:
        return create(), True
    check_key(key, field)
    done = find()
    if done is not None:
        return replay(done, key=key, same=same(done), field=field), False
    try:
        with session.begin_nested():
            made = create()
            session.flush()
    except IntegrityError:
        done = find()  # a concurrent call with the key committed first
        if done is None:
            raise
        return replay(done, key=key, same=same(done), field=field), False
    return made, True


def purge(session: Session, kept: timedelta = KEPT) -> int:
    """Forgets stored answers older than `kept` (a worker timer calls it)."""
    table = _TABLE
    cutoff = datetime.now(timezone.utc) - kept
    return cast(CursorResult, session.execute(delete(table).where(table.c.created_at < cutoff))).rowcount
