"""Write transactions that queue instead of failing on SQLite.

pysqlite starts a transaction lazily, at the first write, after the reads of the same use case:
on a WAL database another process's commit in between makes that write fail at once with
"database is locked" (the busy timeout does not apply to a stale snapshot). Taking the write lock
first (BEGIN IMMEDIATE) makes concurrent writers wait their turn. PostgreSQL needs nothing: row
locks and constraints do the job there.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.orm import Session


@contextmanager
def write_transaction(rt) -> Iterator[Session]:
    with rt.transaction() as session:
        if rt.engine.dialect.name == "sqlite":
            # The kit began a deferred transaction; a write statement (that changes no row) as
            # its first statement takes the write lock now, waiting out the busy timeout.
            session.connection().exec_driver_sql("UPDATE products SET version = version WHERE 0")
        yield session
