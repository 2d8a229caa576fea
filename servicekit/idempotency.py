"""Idempotency keys for creates that a client may retry: the first call with a key does the work
and records its answer; a retry with the same key and the same request gets that answer again and
changes nothing; the same key with another request is FAILED_PRECONDITION.

A service opts in with `idempotency.add_to(Base.metadata)` in its models and
`migration_ops.create_idempotency_table_v1()` in a revision. The claim row is written in the
caller's transaction before the work runs, so two concurrent calls with one key queue on its
primary key: the second sees the first's committed answer, or the claim is gone with the first's
rollback and it does the work itself.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar, cast

from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, Index, LargeBinary, MetaData, String, Table, delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from .db import dialect_insert
from .errors import FailedPrecondition, FieldViolation, InvalidArgument
from .paging import fingerprint

TABLE = "idempotent_requests"
KEPT = timedelta(hours=24)  # longer than any client retries
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
M = TypeVar("M", bound=Message)

def add_to(metadata: MetaData) -> Table:
    table = Table(
        TABLE, metadata,
        Column("scope", String(200), primary_key=True),  # operation and caller, e.g. "cart.add:m-1"
        Column("key", String(128), primary_key=True),
        Column("fingerprint", String(64), nullable=False),  # of the request the key was used for
        Column("response", LargeBinary, nullable=True),  # the serialized answer
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Index("ix_idempotent_requests_created_at", table.c.created_at)
    return table


# The statements' own copy of the table, whatever metadata a service declared it in.
_TABLE = add_to(MetaData())


def check_key(key: str) -> None:
    if key and not _KEY.match(key):
        raise InvalidArgument("the idempotency key is malformed", [FieldViolation(
            "idempotency-key", "format", "1 to 128 printable ASCII characters without spaces, "
                                        "e.g. a UUID")])


def run_once(session: Session, *, scope: str, key: str, request: object,
             response_type: type[M], work: Callable[[], M]) -> M:
    """`work()` once per (scope, key); without a key it simply runs. `request` is anything JSON
    can fingerprint (a dict of the request's fields)."""
    if not key:
        return work()
    check_key(key)
    table = _TABLE
    digest = fingerprint(request)
    # Session.execute is typed Result; for DML it is a CursorResult, which has the rowcount
    claimed = cast(CursorResult, session.execute(
        dialect_insert(session, table)
        .values(scope=scope, key=key, fingerprint=digest, response=None,
                created_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing())).rowcount
    if not claimed:
        row = session.execute(select(table.c.fingerprint, table.c.response)
                              .where(table.c.scope == scope, table.c.key == key)).one()
        if row.fingerprint != digest:
            raise FailedPrecondition(
                f"idempotency key {key!r} was already used for a different request",
                [FieldViolation("idempotency-key", "reused",
                                "send a new key for a new request; reuse a key only to retry "
                                "exactly the same request")])
        return response_type.FromString(row.response)
    result = work()
    session.execute(update(table).where(table.c.scope == scope, table.c.key == key)
                    .values(response=result.SerializeToString()))
    return result


def purge(session: Session, kept: timedelta = KEPT) -> int:
    """Forgets keys older than `kept` (a worker timer calls it)."""
    table = _TABLE
    cutoff = datetime.now(timezone.utc) - kept
    return cast(CursorResult, session.execute(delete(table).where(table.c.created_at < cutoff))).rowcount
