"""A worker whose broker goes away while it holds messages: it acks into a dead connection, must
not exit, reconnects, and the redelivered messages are applied once (the inbox). On a RabbitMQ
node of the test's own (tests/e2e/private_servers.py): the shared broker is never stopped."""
from __future__ import annotations

import glob
import socket
import time
import uuid

import pytest

from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.models import Note
from tests.e2e.private_servers import rabbit_or_skip

NAME = kitdemo.NAME
HELD = 10  # the worker's concurrency: every slot acks at the moment the broker goes


@pytest.fixture(scope="module")
def rabbit():
    yield from rabbit_or_skip()


def test_an_ack_into_a_connection_the_broker_dropped_is_not_fatal(amqp_url):
    """The worker-killing race made certain: a message in hand, its connection's socket dead, the
    channel not yet closed (the consumer thread has not read the goodbye). nameko's own consumer
    raises (the worker thread, then the container, then the process exits); the kit's drops the
    ack and the broker redelivers."""
    from kombu import Connection, Queue
    from nameko.messaging import QueueConsumer

    from servicekit.worker import _QueueConsumer

    queue = Queue(f"kit-ack-test-{uuid.uuid4().hex[:8]}", durable=False, auto_delete=False)
    messages = []
    with Connection(amqp_url) as conn:
        for _ in range(2):
            conn.Producer().publish({"n": 1}, routing_key=queue.name, declare=[queue])
        for _ in range(2):
            channel = conn.channel()
            messages.append(queue(channel).get(no_ack=False))
        conn.connection.transport.sock.shutdown(socket.SHUT_RDWR)  # the broker's goodbye, unread
        nameko_own, kits = messages
        assert nameko_own.channel.connection is not None  # nameko's guard does not see it
        with pytest.raises(OSError):
            QueueConsumer().ack_message(nameko_own)
        lost = _QueueConsumer()
        lost.container = type("C", (), {"service_name": NAME})()
        lost.ack_message(kits)       # logged, not raised
        lost.requeue_message(kits)
    with Connection(amqp_url) as conn:  # never acked: both are still there for a redelivery
        channel = conn.channel()
        bound = queue(channel)
        assert bound.queue_declare(passive=True).message_count == 2
        bound.delete()


def _notes(rt, text):
    from sqlalchemy import select

    with rt.transaction() as s:
        return sorted(s.execute(select(Note.event_id).where(Note.text == text)).scalars())


@pytest.mark.parametrize("away", ["stopped", "killed"])
def test_a_worker_that_acks_while_the_broker_is_gone_reconnects_and_applies_once(
        worker_process, publish_event, runtime_for, wait_until, tmp_path, monkeypatch, rabbit, away):
    rt = runtime_for(NAME)
    monkeypatch.setenv("MALL_AMQP_URL", rabbit.url)  # publish_event's broker
    hold = tmp_path / "hold"
    hold.touch()
    worker = worker_process(NAME, {"MALL_AMQP_URL": rabbit.url, "KITDEMO_HOLD_FILE": str(hold),
                                   "MALL_WORKER_CONCURRENCY": str(HELD)})
    held = sorted(publish_event(NAME, "note.written", {"text": "hold"})["id"] for _ in range(HELD))
    wait_until(lambda: len(glob.glob(f"{hold}.*.holding")) == HELD, timeout=15,
               message="the worker holding every message")
    hold.unlink()            # the handlers commit and ack as the broker goes
    if away == "stopped":
        rabbit.stop()        # the broker closes its connections ("shutdown")
    else:
        rabbit.kill()        # no goodbye: the sockets just die
    wait_until(lambda: len(_notes(rt, "hold")) == HELD, timeout=15,
               message="the held messages applied")
    time.sleep(2)
    assert worker.proc.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
    rabbit.start()
    after = publish_event(NAME, "note.written", {"text": "after the restart"})
    wait_until(lambda: _notes(rt, "after the restart"), timeout=60,
               message="the worker consuming again after the broker came back")
    time.sleep(2)  # what it had not acked is redelivered: the inbox drops it
    assert worker.proc.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
    assert _notes(rt, "hold") == held
    assert _notes(rt, "after the restart") == [after["id"]]
