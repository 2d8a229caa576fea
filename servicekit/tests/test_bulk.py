"""bulk_insert puts back exactly what it was given, on PostgreSQL (COPY) and SQLite (INSERT):
text that COPY would misread (tabs, newlines, backslashes, a literal \\N), NULLs, booleans,
times with their zone, JSON of every shape; and it belongs to the caller's transaction."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, MetaData, String, Table, Text, select

from servicekit.bulk import bulk_insert, insert_new
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


def scalar_rows(ids, name="new") -> list[dict]:
    at = datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
    return [{"id": n, "name": f"{name} {n}", "note": None if n % 2 else "tab\there",
             "flag": n % 3 == 0, "at": at + timedelta(hours=n)} for n in ids]


def test_insert_new_claims_only_the_keys_nobody_holds_and_says_which(engine):
    with make_sessionmaker(engine)() as session, session.begin():
        assert insert_new(session, things, scalar_rows([1, 2], "first"), returning="id") == {1, 2}
    with make_sessionmaker(engine)() as session, session.begin():
        # 2 is held; 4 twice in one call: the second is skipped like any other collision
        claimed = insert_new(session, things, scalar_rows([2, 3, 4, 4, 5], "second"),
                             returning="id")
    assert claimed == {3, 4, 5}
    with make_sessionmaker(engine)() as session:
        stored = {r.id: r for r in session.execute(select(things))}
    assert stored[2].name == "first 2"  # the held row is untouched
    expected = {r["id"]: r for r in scalar_rows([3, 5], "second")}
    for key in (3, 5):
        row = stored[key]
        assert (row.name, row.note, row.flag) == (expected[key]["name"], expected[key]["note"],
                                                  expected[key]["flag"])
        assert row.at.replace(tzinfo=timezone.utc) == expected[key]["at"]
    assert insert_new(make_sessionmaker(engine)(), things, [], returning="id") == set()


def test_insert_new_belongs_to_the_callers_transaction(engine):
    with pytest.raises(RuntimeError):
        with make_sessionmaker(engine)() as session, session.begin():
            assert insert_new(session, things, scalar_rows([7]), returning="id") == {7}
            raise RuntimeError("the batch failed after its claim")
    with make_sessionmaker(engine)() as session:
        assert session.execute(select(things)).all() == []


def test_insert_new_refuses_json_columns_by_name(engine):
    with make_sessionmaker(engine)() as session, pytest.raises(TypeError, match="'data'"):
        insert_new(session, things, [{"id": 1, "name": "x", "flag": True, "data": {}}],
                   returning="id")
