"""servicekit.idempotency: a retried create with the same key runs once, on both databases."""
import threading
from datetime import timedelta

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import func, select

from servicekit import idempotency
from servicekit.db import make_engine, make_sessionmaker, transaction
from servicekit.errors import FailedPrecondition, InvalidArgument
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.models import Base, Note


@pytest.fixture(params=["sqlite", "configured"])
def sessions(request, runtime_for, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'idem.db'}")
        Base.metadata.create_all(engine)
    else:
        engine = runtime_for(kitdemo.NAME).engine
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:  # the configured database outlives one test
        session.execute(Note.__table__.delete())
        session.execute(idempotency._TABLE.delete())
    return factory


def write_note(sessions, key, text, scope="note.add:alice"):
    with transaction(sessions) as session:
        def work():
            note = Note(event_id=f"e-{text}", text=text)
            session.add(note)
            session.flush()
            return StringValue(value=f"note {note.id}: {text}")
        return idempotency.run_once(session, scope=scope, key=key, request={"text": text},
                                    response_type=StringValue, work=work).value


def note_count(sessions):
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(Note))


def test_a_retry_with_the_same_key_returns_the_first_answer_and_does_nothing(sessions):
    first = write_note(sessions, "k-1", "hello")
    assert write_note(sessions, "k-1", "hello") == first
    assert note_count(sessions) == 1
    write_note(sessions, "k-2", "hello")  # a new key is a new request
    write_note(sessions, "k-1", "hello", scope="note.add:bob")  # keys are per scope
    assert note_count(sessions) == 3


def test_without_a_key_every_call_does_the_work(sessions):
    write_note(sessions, "", "a")
    write_note(sessions, "", "a")
    assert note_count(sessions) == 2


def test_a_key_reused_for_another_request_is_refused(sessions):
    write_note(sessions, "k-1", "hello")
    with pytest.raises(FailedPrecondition) as err:
        write_note(sessions, "k-1", "goodbye")
    assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "reused")]
    assert note_count(sessions) == 1


def test_a_malformed_key_is_refused(sessions):
    with pytest.raises(InvalidArgument) as err:
        write_note(sessions, "has space", "hello")
    assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "format")]
    with pytest.raises(InvalidArgument):
        write_note(sessions, "k" * 129, "hello")
    assert note_count(sessions) == 0


def test_failed_work_leaves_the_key_free(sessions):
    with pytest.raises(ZeroDivisionError):
        with transaction(sessions) as session:
            idempotency.run_once(session, scope="s", key="k-1", request={}, response_type=StringValue,
                                 work=lambda: StringValue(value=str(1 / 0)))
    assert write_note(sessions, "k-1", "hello", scope="s").endswith("hello")


def test_keys_are_forgotten_after_a_day(sessions):
    write_note(sessions, "k-1", "hello")
    with transaction(sessions) as session:
        assert idempotency.purge(session, kept=timedelta(hours=24)) == 0
        assert idempotency.purge(session, kept=timedelta(seconds=-1)) == 1
    write_note(sessions, "k-1", "hello")
    assert note_count(sessions) == 2


def test_concurrent_calls_with_one_key_do_the_work_once(sessions):
    barrier, answers, errors = threading.Barrier(6), [], []

    def call():
        try:
            barrier.wait(5)
            answers.append(write_note(sessions, "k-race", "once"))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(set(answers)) == 1 and len(answers) == 6
    assert note_count(sessions) == 1
