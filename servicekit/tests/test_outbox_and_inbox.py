"""Outbox → RabbitMQ → worker with inbox, on the real broker and database."""
import json

import grpc
import pika
import pytest
from sqlalchemy import func, select

from servicekit import deadletters
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.api import call
from servicekit.tests.kitdemo.models import Note

NAME = kitdemo.NAME


def outbox_rows(rt):
    with rt.transaction() as s:
        return s.execute(select(rt.outbox_table)).all()


def notes(rt, text=None):
    with rt.transaction() as s:
        query = select(Note.event_id, Note.text).where(Note.event_id != "-")
        if text:
            query = query.where(Note.text == text)
        return s.execute(query).all()


def test_state_and_event_commit_together_or_not_at_all(grpc_stub_for, runtime_for):
    channel = grpc_stub_for(NAME, lambda ch: ch)
    rt = runtime_for(NAME)
    assert call(channel, "Note", "hello") == "written"
    with pytest.raises(grpc.RpcError) as refused:
        call(channel, "Note", "rollback")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rows = outbox_rows(rt)
    assert [json.loads(r.body)["data"]["text"] for r in rows] == ["hello"]
    with rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 1


def test_relay_publishes_envelope_with_properties_and_marks_rows(runtime_for, relay_for, listen_for,
                                                                 wait_until):
    rt = runtime_for(NAME)
    written = listen_for(NAME, "note.written")
    with rt.transaction() as s:
        sent = rt.emit(s, "note.written", {"text": "relayed"})
    relay_for(NAME)
    method, props, envelope, _ = written.next()
    assert envelope == sent
    assert set(envelope) == {"id", "type", "source", "occurred_at", "data"}
    assert props.content_type == "application/json" and props.delivery_mode == 2
    assert props.message_id == sent["id"]
    assert method.routing_key == "note.written"
    wait_until(lambda: all(r.published_at is not None for r in outbox_rows(rt)))


def test_relay_resends_rows_it_could_not_mark(runtime_for, relay_for, wait_until):
    """A crash after publishing but before marking leaves the row unpublished: it goes again.
    (Consumers' inboxes make the second copy harmless — see the next test.)"""
    rt = runtime_for(NAME)
    with rt.transaction() as s:
        rt.emit(s, "note.written", {"text": "again"})
    relay = relay_for(NAME)
    wait_until(lambda: outbox_rows(rt)[0].published_at is not None)
    with rt.engine.begin() as conn:  # simulate the lost mark
        conn.execute(rt.outbox_table.update().values(published_at=None))
    rt.wake_outbox()
    wait_until(lambda: outbox_rows(rt)[0].published_at is not None)
    assert relay.is_alive()


def test_duplicate_delivery_is_applied_once(worker_process, publish_event, runtime_for, wait_until):
    rt = runtime_for(NAME)
    worker_process(NAME)
    envelope = publish_event(NAME, "note.written", {"text": "once"})
    publish_event(NAME, "note.written", {"text": "once"}, event_id=envelope["id"])
    publish_event(NAME, "note.written", {"text": "marker"})
    wait_until(lambda: notes(rt, "marker"), message="marker handled")
    wait_until(lambda: len(notes(rt, "once")) >= 1)
    assert len(notes(rt, "once")) == 1
    with rt.transaction() as s:
        assert s.execute(select(rt.inbox_table).where(rt.inbox_table.c.event_id == envelope["id"])).one()


def test_failing_handler_parks_message_then_replay_applies_it(worker_process, publish_event, runtime_for,
                                                              wait_until):
    rt = runtime_for(NAME)
    sick = worker_process(NAME)
    envelope = publish_event(NAME, "note.written", {"text": "poison"})
    parked = wait_until(lambda: deadletters.list_parked(NAME), timeout=20, message="parked")
    assert parked[0]["event_id"] == envelope["id"]
    assert parked[0]["handler"] == "kitdemo.record_note"
    assert "cannot digest poison" in parked[0]["error"]
    assert notes(rt, "poison") == []
    sick.stop()
    worker_process(NAME, {"KITDEMO_CURED": "1"})  # the fix is deployed
    assert deadletters.replay(NAME) == 1
    wait_until(lambda: notes(rt, "poison"), message="replayed event applied")
    assert deadletters.list_parked(NAME) == []


def test_malformed_message_is_parked_not_lost(worker_process, amqp_url, wait_until):
    worker_process(NAME)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("kitdemo.events", "note.written", b'{"no": "envelope"}',
                          pika.BasicProperties(content_type="application/json"))
    connection.close()
    parked = wait_until(lambda: deadletters.list_parked(NAME), timeout=20)
    assert "envelope lacks" in parked[0]["error"]


def _slow_polling_relay(rt):
    """A relay whose safety poll is far away: only a wake-up can make it publish soon."""
    from servicekit.outbox import OutboxRelay
    relay = OutboxRelay(rt, poll_seconds=60)
    relay.start()
    assert relay.connected.wait(10), "the outbox relay could not reach RabbitMQ"
    return relay


def test_a_commit_in_the_relays_process_wakes_it_at_once(runtime_for, wait_until):
    rt = runtime_for(NAME)
    relay = _slow_polling_relay(rt)
    try:
        wait_until(lambda: all(r.published_at is not None for r in outbox_rows(rt)))
        with rt.transaction() as s:
            rt.emit(s, "note.written", {"text": "woken"})
        wait_until(lambda: all(r.published_at is not None for r in outbox_rows(rt)), timeout=5)
    finally:
        relay.stop()


def test_a_commit_in_a_process_without_a_relay_wakes_it_through_notify(runtime_for, wait_until):
    """The worker has no relay: on PostgreSQL its commit NOTIFYs the api's relay."""
    from servicekit.config import Settings
    from servicekit.runtime import Runtime
    from servicekit.tests.kitdemo.models import Base

    rt = runtime_for(NAME)
    if rt.outbox_channel is None:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the relay polls")
    relay = _slow_polling_relay(rt)
    worker_rt = Runtime(NAME, Base, Settings.load(NAME))  # another process's runtime: no relay
    try:
        wait_until(lambda: all(r.published_at is not None for r in outbox_rows(rt)))
        with worker_rt.transaction() as s:
            worker_rt.emit(s, "note.written", {"text": "from the worker"})
        wait_until(lambda: outbox_rows(rt) and all(r.published_at is not None
                                                   for r in outbox_rows(rt)), timeout=5)
    finally:
        relay.stop()
        worker_rt.dispose()


def test_a_relay_that_loses_its_listen_connection_falls_back_to_polling(runtime_for, relay_for,
                                                                        wait_until):
    from sqlalchemy import text

    from servicekit.config import Settings
    from servicekit.runtime import Runtime
    from servicekit.tests.kitdemo.models import Base

    rt = runtime_for(NAME)
    if rt.outbox_channel is None:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the relay polls")
    relay = relay_for(NAME)
    listener_pid = relay._listener.get_backend_pid()
    with rt.engine.connect() as conn:  # what a database restart does to it
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener_pid})
    worker_rt = Runtime(NAME, Base, Settings.load(NAME))
    try:
        with worker_rt.transaction() as s:
            worker_rt.emit(s, "note.written", {"text": "after the restart"})
        wait_until(lambda: outbox_rows(rt) and all(r.published_at is not None
                                                   for r in outbox_rows(rt)), timeout=5)
        assert relay.is_alive()
    finally:
        worker_rt.dispose()


def test_commits_while_a_batch_is_in_flight_go_out_without_waiting_for_the_poll(runtime_for,
                                                                                 wait_until):
    from concurrent.futures import ThreadPoolExecutor

    from servicekit.config import Settings
    from servicekit.runtime import Runtime
    from servicekit.tests.kitdemo.models import Base

    rt = runtime_for(NAME)
    relay = _slow_polling_relay(rt)
    others = Runtime(NAME, Base, Settings.load(NAME)) if rt.outbox_channel else rt

    def note(i):  # on PostgreSQL from "the worker": only NOTIFY wakes the relay
        with others.transaction() as s:
            others.emit(s, "note.written", {"text": f"burst {i}"})

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(note, range(60)))
        wait_until(lambda: len(outbox_rows(rt)) >= 60 and all(
            r.published_at is not None for r in outbox_rows(rt)), timeout=5)
    finally:
        relay.stop()
        if others is not rt:
            others.dispose()


def test_a_database_briefly_away_is_waited_for_not_parked(worker_process, publish_event, runtime_for,
                                                           wait_until, tmp_path):
    """Three quick failures used to park the message; a database away for longer than the quick
    retries is retried with backoff, the message kept, and applied once it is back (here also
    past the horizon, 2 s: the message goes back on its queue and starts over, never parked)."""
    rt = runtime_for(NAME)
    before = {p["event_id"] for p in deadletters.list_parked(NAME)}  # earlier tests' parked ones

    def parked_ids():
        return {p["event_id"] for p in deadletters.list_parked(NAME)} - before

    away = tmp_path / "database-away"
    away.touch()
    worker_process(NAME, {"KITDEMO_AWAY_FILE": str(away), "MALL_WORKER_TRANSIENT_RETRY_SECONDS": "1",
                          "MALL_WORKER_TRANSIENT_HORIZON_SECONDS": "2"})
    envelope = publish_event(NAME, "note.written", {"text": "away"})
    publish_event(NAME, "note.written", {"text": "meanwhile"})
    wait_until(lambda: notes(rt, "meanwhile"), message="other messages still handled")
    import time
    time.sleep(5)  # well past the three quick tries (0.6 s) and the horizon
    assert parked_ids() == set()
    assert notes(rt, "away") == []
    away.unlink()  # the database is back
    wait_until(lambda: notes(rt, "away"), timeout=20, message="applied once the database is back")
    assert [row.event_id for row in notes(rt, "away")] == [envelope["id"]]
    assert parked_ids() == set()


def test_a_transient_failure_is_told_from_the_handlers_own():
    import sqlite3

    import psycopg2
    import sqlalchemy
    from sqlalchemy import exc

    from servicekit.worker import is_transient

    engine = sqlalchemy.create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none")
    with pytest.raises(exc.OperationalError) as refused:
        engine.connect()
    assert is_transient(refused.value)
    locked = exc.OperationalError("UPDATE t", {}, sqlite3.OperationalError("database is locked"))
    assert is_transient(locked)
    shutdown = psycopg2.errors.AdminShutdown("terminating connection due to administrator command")
    assert is_transient(exc.OperationalError("SELECT 1", {}, shutdown))
    assert is_transient(ConnectionRefusedError(111, "Connection refused"))
    import kombu.exceptions
    assert is_transient(kombu.exceptions.OperationalError("[Errno 111] Connection refused"))
    # the handler's own failures
    assert not is_transient(ValueError("cannot digest poison"))
    assert not is_transient(exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x")))
    assert not is_transient(exc.IntegrityError("INSERT", {}, Exception("duplicate key value")))
