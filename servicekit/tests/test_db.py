"""Transactions behave the same on SQLite (make run) and PostgreSQL (tests, production)."""
import pytest
from sqlalchemy import select

from servicekit.db import make_engine, make_sessionmaker
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.models import Base, Note


@pytest.mark.parametrize("backend", ["sqlite", "configured"])
def test_rolled_back_savepoint_keeps_nothing(backend, runtime_for, tmp_path):
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'savepoint.db'}")
        Base.metadata.create_all(engine)
    else:
        engine = runtime_for(kitdemo.NAME).engine
    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        session.add(Note(event_id="outer", text="kept"))
        with pytest.raises(ValueError):
            with session.begin_nested():
                session.add(Note(event_id="inner", text="dropped"))
                session.flush()
                raise ValueError("undo the savepoint")
    with sessions() as session:
        assert session.scalars(select(Note.event_id)).all() == ["outer"]
