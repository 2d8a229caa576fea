"""servicekit.idempotency: a retried create with the same key runs once, on both databases, in
both shapes: a stored answer (run_once) and a key kept on the row it made (create_once)."""
import threading
import time
from datetime import timedelta

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import func, select

from servicekit import idempotency
from servicekit.db import make_engine, make_sessionmaker, transaction
from servicekit.errors import FailedPrecondition, InvalidArgument
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.models import Base, Booking, Note


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
        session.execute(Booking.__table__.delete())
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
    assert "'k-1'" in err.value.message and "new idempotency-key" in err.value.violations[0].description
    assert note_count(sessions) == 1


def test_a_malformed_key_is_refused(sessions):
    with pytest.raises(InvalidArgument) as err:
        write_note(sessions, "has space", "hello")
    assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "format")]
    with pytest.raises(InvalidArgument):
        write_note(sessions, "k" * 129, "hello")
    assert note_count(sessions) == 0
    assert write_note(sessions, "k" * 128, "hello").endswith("hello")  # the longest key


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


def race(call, times=6):
    """`call()` on `times` threads at once; their answers (any error fails the test)."""
    barrier, answers, errors = threading.Barrier(times), [], []

    def one():
        try:
            barrier.wait(5)
            answers.append(call())
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return answers


def test_concurrent_calls_with_one_key_do_the_work_once(sessions):
    answers = race(lambda: write_note(sessions, "k-race", "once"))
    assert len(set(answers)) == 1 and len(answers) == 6
    assert note_count(sessions) == 1


def test_keys_of_the_first_version_with_their_short_digest_are_still_answered(sessions):
    first = write_note(sessions, "k-1", "hello")
    with transaction(sessions) as session:
        session.execute(idempotency._TABLE.update().values(
            fingerprint=idempotency._first_digest({"text": "hello"})))
    assert write_note(sessions, "k-1", "hello") == first
    with pytest.raises(FailedPrecondition):
        write_note(sessions, "k-1", "goodbye")
    assert note_count(sessions) == 1


# The second shape: the key is kept on the row the create made (a unique (owner, key) column).

def book(sessions, key, text, owner="alice", pause=0.0):
    """(booking id, made now?)"""
    with transaction(sessions) as session:
        fingerprint = idempotency.digest({"text": text})

        def create():
            time.sleep(pause)  # a slow create widens the race of the concurrency test
            booking = Booking(owner=owner, text=text, idempotency_key=key or None,
                              request_fingerprint=fingerprint)
            session.add(booking)
            session.flush()
            return booking

        booking, new = idempotency.create_once(
            session, key=key,
            find=lambda: session.scalar(select(Booking).where(Booking.owner == owner,
                                                              Booking.idempotency_key == key)),
            same=lambda done: done.request_fingerprint == fingerprint, create=create)
        return booking.id, new


def booking_count(sessions):
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(Booking))


def test_a_row_kept_key_retry_answers_with_the_row_it_made_and_makes_nothing(sessions):
    first, new = book(sessions, "k-1", "hello")
    assert new is True
    assert book(sessions, "k-1", "hello") == (first, False)
    assert booking_count(sessions) == 1
    assert book(sessions, "k-2", "hello")[1] is True  # a new key is a new request
    assert book(sessions, "k-1", "hello", owner="bob")[1] is True  # keys are per owner
    assert book(sessions, "", "hello")[1] is True and book(sessions, "", "hello")[1] is True
    assert booking_count(sessions) == 5


def test_a_row_kept_key_reused_for_another_request_is_refused_naming_the_key(sessions):
    book(sessions, "k-1", "hello")
    with pytest.raises(FailedPrecondition) as err:
        book(sessions, "k-1", "goodbye")
    assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "reused")]
    assert "'k-1'" in err.value.message
    assert booking_count(sessions) == 1


def test_a_malformed_row_kept_key_is_refused(sessions):
    for bad in ("has space", "k" * 129, "ключ"):
        with pytest.raises(InvalidArgument) as err:
            book(sessions, bad, "hello")
        assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "format")]
    assert booking_count(sessions) == 0


def test_a_saga_step_keyed_by_its_order_id_names_that_field():
    with pytest.raises(FailedPrecondition) as err:
        idempotency.replay(object(), key="o-1", same=False, field="order_id")
    assert [(v.field, v.rule) for v in err.value.violations] == [("order_id", "reused")]
    assert "'o-1'" in err.value.message
    done = object()
    assert idempotency.replay(done, key="o-1", same=True, field="order_id") is done


def test_concurrent_creates_with_one_key_make_one_row(sessions):
    answers = race(lambda: book(sessions, "k-race", "once", pause=0.05))
    assert len({booking_id for booking_id, _ in answers}) == 1 and len(answers) == 6
    assert sorted(new for _, new in answers) == [False] * 5 + [True]
    assert booking_count(sessions) == 1
