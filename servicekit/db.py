"""SQLAlchemy 2 engines and sessions, and the plumbing tables every service database has.

Each service declares its models on its own ``Base = declarative_base()``: the outbox and inbox
tables are already in that metadata, so the service's Alembic migrations create them too.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timezone
from typing import Iterator

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite stores BIGINT primary keys without rowid aliasing; INTEGER there keeps autoincrement.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """A moment in time (``timestamptz`` on PostgreSQL) that reads back as an aware UTC datetime on
    every database. SQLite has no time zones: SQLAlchemy stores a datetime's wall clock there and
    drops its offset, and hands it back naive. So on SQLite a moment is stored in UTC and read back
    marked UTC, as PostgreSQL does, and no caller needs a guard. Every time column uses it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and dialect.name == "sqlite" and value.tzinfo is not None:
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and dialect.name == "sqlite":
            return value.replace(tzinfo=timezone.utc)
        return value


def _plumbing_tables(metadata: MetaData) -> None:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("body", Text, nullable=False),  # the JSON envelope, exactly as published
        Column("headers", Text, nullable=False, default="{}"),  # JSON: traceparent ...
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )
    Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.id)
    Table(
        "inbox", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("handler", String(200), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UtcDateTime, nullable=False),
    )


def declarative_base() -> type[DeclarativeBase]:
    """A fresh declarative base whose metadata already holds the outbox and inbox tables."""
    metadata = MetaData(naming_convention=NAMING)
    _plumbing_tables(metadata)
    return type("Base", (DeclarativeBase,), {"metadata": metadata, "__abstract__": True})


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5, pre_ping: bool = True) -> Engine:
    """pre_ping costs a round trip per checkout: workers turn it off, their retries cover a
    connection that died."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL lets the api and worker share the file
            # pysqlite's own transaction handling breaks SAVEPOINTs (rolling one back kept its
            # rows): take transactions over, as SQLAlchemy documents for this driver.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE: a transaction that reads then writes would otherwise fail with "database
            # is locked" when another connection commits in between; this way writers queue.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=pre_ping,
                         pool_recycle=1800)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dialect_insert(session: Session, table):
    """An INSERT of the session's dialect, so `.on_conflict_do_nothing()` / `.on_conflict_do_update()`
    work the same on PostgreSQL (tests, production) and SQLite (`make run`)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"the mall runs on PostgreSQL or SQLite, not {dialect}")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def take_turns(session: Session, key: str) -> None:
    """Makes the transactions that call it with the same `key` run one after the other until
    they end (PostgreSQL: a transaction-scoped advisory lock on the key's hash; SQLite writers
    already queue behind BEGIN IMMEDIATE). For work that must see what the others wrote, where no
    row exists yet to lock (the first notices of an order, arriving on two queues at once)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def row_by_id(session: Session, model, raw_id: str, what: str, *, for_update: bool = False,
              member_id: str | None = None):
    """The row of `model` (a BIGINT `id`) that an id from outside names, or NotFound naming `what`.
    The id is read as ASCII digits only (`servicekit.ids`: "٣" names nothing). With `member_id`,
    another member's row is not found either: a shopper never learns it exists."""
    from .errors import NotFound
    from .ids import excerpt, try_int_id

    row_id = try_int_id(raw_id)
    row = session.get(model, row_id, with_for_update=for_update) if row_id is not None else None
    if row is None or (member_id is not None and row.member_id != member_id):
        owner = "you have no" if member_id is not None else "there is no"
        raise NotFound(f"{owner} {what} {excerpt(raw_id)}")
    return row
