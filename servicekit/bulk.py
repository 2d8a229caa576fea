"""Thousands of rows into one table at once (imports, backfills).

On PostgreSQL the rows go through `COPY ... FROM STDIN` in its text format: one stream, no
statement parameters for SQLAlchemy to process per row, several times cheaper than multi-row
INSERTs on both ends. Elsewhere (SQLite under `make run`) they go as one executemany INSERT.
Either way the caller's transaction holds them: a rollback takes them back.
"""
from __future__ import annotations

import io
import json
from collections.abc import Sequence
from contextlib import contextmanager
from operator import itemgetter

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session

from .db import dialect_insert

# COPY's text format: backslash escapes for the characters that separate values and rows.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_EMPTY: dict[type, str] = {list: "[]", dict: "{}", tuple: "[]"}  # the commonest values, without the encoder


def _to_json(value) -> str:
    return (not value and _EMPTY.get(type(value))) or _json(value)


def _escaped(values: Sequence) -> str:
    return "\t".join(_NULL if v is None else str(v).translate(_ESCAPES) for v in values)


def _copy_text(rows: list[dict], names: list[str], json_columns: list[int]) -> io.StringIO:
    """The rows as COPY text. Per value only str() (ints, "True"/"False", ISO times with their
    zone: all what PostgreSQL reads back) and json.dumps for JSON columns; a line is escaped
    value by value only when it holds a backslash, tab, newline or carriage return."""
    stream = io.StringIO()
    write, tabs, get = stream.write, len(names) - 1, itemgetter(*names)
    # JSON once per object: rows often share one (a SKU's attributes on each of its lines), and
    # every object stays alive, so its id() stays its own, while `rows` is held here
    encoded: dict[int, str] = {}
    for row in rows:
        values = get(row) if tabs else (row[names[0]],)
        if json_columns:
            values = list(values)
            for i in json_columns:
                if (value := values[i]) is not None:
                    if (json_text := encoded.get(id(value))) is None:
                        json_text = encoded[id(value)] = _to_json(value)
                    values[i] = json_text
        line = "\t".join([_NULL if v is None else str(v) for v in values])
        # every NULL marker holds one backslash: any other means a value needs escaping
        if (line.count("\t") != tabs or line.count("\\") != values.count(None)
                or "\n" in line or "\r" in line):
            line = _escaped(values)
        write(line)
        write("\n")
    stream.seek(0)
    return stream


def bulk_insert(session: Session, table: Table, rows: list[dict]) -> None:
    """Inserts `rows` (dicts with the same keys, named by column) into `table`."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    json_columns = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    with _cursor(session) as cursor:
        cursor.copy_expert(f"COPY {_target(session, table, names)} FROM STDIN",
                           _copy_text(rows, names, json_columns))


def insert_new(session: Session, table: Table, rows: list[dict], returning: str) -> set:
    """Inserts the rows that collide with no unique key of `table` (the others are skipped, not
    errors: a claim), and returns `returning`'s value of each row inserted.

    On PostgreSQL one statement takes every row as column arrays (`INSERT ... SELECT * FROM
    unnest(...) ON CONFLICT DO NOTHING RETURNING`): psycopg2 writes the arrays in C, where a
    many-row INSERT had SQLAlchemy process every row's parameters in Python (a tenth of an
    import's time). Elsewhere, one executemany INSERT ... ON CONFLICT DO NOTHING RETURNING.
    Plain scalar columns only."""
    if not rows:
        return set()
    names = list(rows[0])
    if json := [n for n in names if isinstance(table.c[n].type, JSON)]:
        raise TypeError(f"insert_new takes scalar columns only; {table.name} {json} are JSON")
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return set(session.scalars(dialect_insert(session, table).on_conflict_do_nothing()
                                   .returning(table.c[returning]), rows))
    arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect)}[]" for name in names)
    statement = (f"INSERT INTO {_target(session, table, names)} SELECT * FROM unnest({arrays}) "
                 f"ON CONFLICT DO NOTHING RETURNING {dialect.identifier_preparer.quote(returning)}")
    with _cursor(session) as cursor:
        cursor.execute(statement, [[row[name] for row in rows] for name in names])
        return {value for (value,) in cursor.fetchall()}


def _target(session: Session, table: Table, names: list[str]) -> str:
    """`"table" ("a", "b")`, quoted as the dialect quotes."""
    quote = session.get_bind().dialect.identifier_preparer
    return f"{quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)})"


@contextmanager
def _cursor(session: Session):
    """A driver cursor on the session's connection: in its transaction, closed after."""
    cursor = session.connection().connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
