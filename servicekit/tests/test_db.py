"""Transactions behave the same on SQLite (make run) and PostgreSQL (tests, production)."""
import pytest
from sqlalchemy import select

from servicekit.db import make_engine, make_sessionmaker
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.models import Base, Note


@pytest.mark.parametrize("backend", ["sqlite", "configured"])
def test_outer_rollback_undoes_a_released_savepoint(backend, runtime_for, tmp_path):
    # pysqlite on its own treats the first SAVEPOINT as the transaction and its release as a
    # commit, so this row used to survive the rollback on SQLite.
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'savepoint.db'}")
        Base.metadata.create_all(engine)
    else:
        engine = runtime_for(kitdemo.NAME).engine
    sessions = make_sessionmaker(engine)
    with pytest.raises(ValueError):
        with sessions() as session, session.begin():
            with session.begin_nested():
                session.add(Note(event_id="inner", text="released"))
            raise ValueError("the whole unit of work fails")
    with sessions() as session:
        assert session.scalars(select(Note.event_id)).all() == []


def test_sqlite_writers_that_read_first_queue_instead_of_failing(tmp_path):
    """make run keeps every service in SQLite: concurrent read-then-write transactions must take
    turns (BEGIN IMMEDIATE), not fail with "database is locked"."""
    import threading

    from sqlalchemy import func

    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    Base.metadata.create_all(engine)
    sessions = make_sessionmaker(engine)
    errors = []

    def writer(i):
        try:
            for j in range(10):
                with sessions() as session, session.begin():
                    seen = session.scalar(select(func.count()).select_from(Note))  # read first
                    session.add(Note(event_id=f"{i}-{j}", text=str(seen)))       # then write
        except Exception as err:  # collected for the assertion
            errors.append(repr(err))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as session:
        counts = sorted(int(t) for t in session.scalars(select(Note.text)))
    assert counts == list(range(40))  # each writer saw every earlier commit: they took turns


@pytest.mark.parametrize("backend", ["sqlite", "configured"])
def test_a_time_column_gives_back_the_moment_stored_aware_in_utc(backend, runtime_for, tmp_path,
                                                                 machine_in_shanghai):
    """SQLite has no time zones: a UtcDateTime column stores the moment (not the wall clock of
    its offset) and reads it back aware, as PostgreSQL does, whatever the machine's zone."""
    from datetime import datetime, timedelta, timezone

    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'times.db'}")
        Base.metadata.create_all(engine)
    else:
        engine = runtime_for(kitdemo.NAME).engine
    outbox = Base.metadata.tables["outbox"]
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    evening_in_shanghai = noon.astimezone(timezone(timedelta(hours=8)))  # 20:00+08:00
    with engine.begin() as conn:
        conn.execute(outbox.insert().values(event_id="e-1", event_type="t", body="{}", headers="{}",
                                            created_at=evening_in_shanghai, attempts=0))
        stored = conn.execute(select(outbox.c.created_at)).scalar_one()
        earlier = conn.execute(select(outbox.c.event_id).where(
            outbox.c.created_at < noon + timedelta(minutes=30))).scalars().all()
    assert stored == noon and stored.utcoffset() == timedelta(0)
    assert earlier == ["e-1"]
