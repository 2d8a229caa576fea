"""bulk_insert puts back exactly what it was given, on PostgreSQL (COPY) and SQLite (INSERT):
text that COPY would misread (tabs, newlines, backslashes, a literal \\N), NULLs, booleans,
times with their zone, JSON of every shape; and it belongs to the caller's transaction."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, MetaData, String, Table, Text, select

from servicekit.bulk import bulk_insert
from servicekit.db import make_engine, make_sessionmaker
from servicekit.tests import kitdemo

metadata = MetaData()
things = Table(
    "bulk_things", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("note", Text, nullable=True),
    Column("flag", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("data", JSON, nullable=True),
)

AWKWARD_TEXT = ["plain", "", "tab\there", "new\nline", "carriage\rreturn", "back\\slash",
                "\\N", "\\", "中文 全角１２３", "ends with backslash\\", "\\t literally"]
JSON_VALUES = [{}, [], {"a": [1, "二", None]}, ["x\ty", "\\N"], "a string", 0, False, 12.5]


def rows(zone=timezone.utc) -> list[dict]:
    at = datetime(2026, 11, 22, 10, 30, 15, 123456, tzinfo=zone)
    made = []
    for n, text in enumerate(AWKWARD_TEXT):
        made.append({"id": n, "name": text, "note": None if n % 3 == 0 else text,
                     "flag": n % 2 == 0, "at": None if n == 4 else at + timedelta(days=n),
                     "data": JSON_VALUES[n % len(JSON_VALUES)] if n != 5 else None})
    return made


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, runtime_for, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    else:
        engine = runtime_for(kitdemo.NAME).engine
        if engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL is not reachable")
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)


def test_every_value_comes_back_as_it_went_in(engine):
    postgres = engine.dialect.name == "postgresql"
    # SQLite keeps no zone (the services store UTC there); PostgreSQL must keep +08:00's instant
    given = rows(timezone(timedelta(hours=8)) if postgres else timezone.utc)
    with make_sessionmaker(engine)() as session, session.begin():
        bulk_insert(session, things, given)
    with make_sessionmaker(engine)() as session:
        stored = [dict(r._mapping) for r in session.execute(select(things).order_by(things.c.id))]
    if not postgres:
        for row in stored:
            row["at"] = row["at"] and row["at"].replace(tzinfo=timezone.utc)
    assert stored == given


def test_the_rows_are_the_callers_transactions_to_roll_back(engine):
    with pytest.raises(RuntimeError):
        with make_sessionmaker(engine)() as session, session.begin():
            bulk_insert(session, things, rows())
            raise RuntimeError("the rest of the unit of work failed")
    with make_sessionmaker(engine)() as session:
        assert session.execute(select(things)).all() == []


def test_a_row_the_table_refuses_refuses_the_whole_batch(engine):
    bad = rows() + [{"id": 0, "name": "duplicate key", "note": None, "flag": True, "at": None,
                     "data": None}]
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with make_sessionmaker(engine)() as session, session.begin():
            bulk_insert(session, things, bad)
    with make_sessionmaker(engine)() as session:
        assert session.execute(select(things)).all() == []
