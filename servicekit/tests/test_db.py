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
