"""pytest fixtures for services: real PostgreSQL (when 127.0.0.1:5432 answers) and real RabbitMQ.

At configure time every service is pointed (through the environment, so subprocesses inherit it)
at its own test database `mall_test_<service>_<pid>` and at a RabbitMQ vhost of this session;
databases are created and migrated on first use and dropped at the end, with the vhost.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pika
import pika.exceptions
import pytest
from sqlalchemy import create_engine, select, text

from . import migrate, service
from .config import REPO_ROOT, SERVICES, Settings
from .events import exchange_name, make_envelope
from .ports import free_port

PG_ADMIN_URL = os.environ.get("MALL_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
RUN_ID = f"{os.getpid()}"
_state: dict = {"created": set(), "migrated": set(), "vhost": None, "tmp": None, "servers": {},
               "server_env": {}}


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def use_postgres() -> bool:
    if os.environ.get("MALL_TEST_DB", "").lower() == "sqlite":
        return False
    return _port_open("127.0.0.1", 5432)


def database_name(name: str) -> str:
    return f"mall_test_{name}_{RUN_ID}"


def rabbitmqctl(*args: str) -> bool:
    tool = shutil.which("rabbitmqctl")
    if not tool:
        return False
    return subprocess.run([tool, *args], capture_output=True, timeout=60).returncode == 0


def create_vhost(vhost: str) -> bool:
    """A fresh RabbitMQ vhost for guest; False where rabbitmqctl is not at hand."""
    return rabbitmqctl("add_vhost", vhost) and rabbitmqctl("set_permissions", "-p", vhost, "guest",
                                                           ".*", ".*", ".*")


def delete_vhost(vhost: str) -> None:
    rabbitmqctl("delete_vhost", vhost)


def create_database(db: str, admin_url: str | None = None) -> str:
    """A fresh, empty PostgreSQL database (dropped first if a crashed run left it); its URL.
    `admin_url`: another cluster's (a fault test's private one), not MALL_TEST_PG_ADMIN_URL."""
    admin_url = admin_url or PG_ADMIN_URL
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{db}"'))
    finally:
        engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + db


def drop_databases(names, admin_url: str | None = None) -> None:
    if not names:
        return
    engine = create_engine(admin_url or PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for db in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    finally:
        engine.dispose()


def pytest_configure(config):
    prepare_environment()


def pytest_unconfigure(config):
    teardown_environment()


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Sets environment variables for a block and puts back what was there before: for session-
    and module-scoped fixtures, where pytest's monkeypatch does not reach."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def prepare_environment() -> None:
    """Points every service at throw-away databases, a fresh vhost and a temp var/ (also used by
    benchmarks and the e2e harness, outside pytest)."""
    tmp = Path(tempfile.mkdtemp(prefix="mall-test-"))
    _state["tmp"] = tmp
    os.environ["MALL_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("MALL_MEDIA_ROOT", str(tmp / "media"))
    os.environ.setdefault("MALL_JWT_SECRET", "test-jwt-secret-" + uuid.uuid4().hex)
    os.environ["MALL_API_METRICS_PORT"] = "0"
    os.environ["MALL_WORKER_METRICS_PORT"] = "0"
    os.environ["MALL_DRAIN_SECONDS"] = "0"
    pythonpath = [str(REPO_ROOT), str(REPO_ROOT / "gen")]
    os.environ["PYTHONPATH"] = os.pathsep.join(pythonpath + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for name in SERVICES:
        point_at_test_database(name)
    vhost = f"mall_test_{RUN_ID}"
    base = os.environ.get("MALL_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
    if create_vhost(vhost):
        _state["vhost"] = vhost
        os.environ["MALL_AMQP_URL"] = f"{base}/{vhost}"
    else:  # no rabbitmqctl here: share the default vhost
        os.environ["MALL_AMQP_URL"] = f"{base}/%2F"


def teardown_environment() -> None:
    for server in _state["servers"].values():
        server.stop()
    service.forget_runtimes()
    drop_databases(_state["created"])
    if _state["vhost"]:
        delete_vhost(_state["vhost"])
    if _state["tmp"]:
        shutil.rmtree(_state["tmp"], ignore_errors=True)


def point_at_test_database(name: str) -> None:
    """Sets MALL_<NAME>_DATABASE_URL (inherited by the processes tests start)."""
    if use_postgres():
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database_name(name)
    else:
        url = f"sqlite:///{Path(_state['tmp']) / (name + '.db')}"
    os.environ[f"MALL_{name.upper()}_DATABASE_URL"] = url


def ensure_database(name: str) -> None:
    """Creates (PostgreSQL) and migrates `name`'s test database, once per session."""
    if name in _state["migrated"]:
        return
    if f"MALL_{name.upper()}_DATABASE_URL" not in os.environ:
        point_at_test_database(name)
    if use_postgres():
        create_database(database_name(name))
        _state["created"].add(database_name(name))
    if migrate.has_migrations(name):
        migrate.upgrade(name, Settings.load(name).database_url)
    else:  # a service still without migrations: build its tables from the models
        service.runtime(name).metadata.create_all(service.runtime(name).engine)
    _state["migrated"].add(name)


def empty_tables(name: str) -> None:
    rt = service.runtime(name)
    tables = [t for t in rt.metadata.sorted_tables]
    with rt.engine.begin() as conn:
        if rt.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


def outbox_events(runtime, event_type: str | None = None) -> list[dict]:
    """The envelopes a service wrote to its outbox (oldest first), optionally of one type: what a
    use case announced, read back without a broker."""
    table = runtime.outbox_table
    query = select(table.c.body).order_by(table.c.id)
    if event_type:
        query = query.where(table.c.event_type == event_type)
    with runtime.engine.connect() as conn:
        return [json.loads(body) for body in conn.execute(query).scalars()]


@pytest.fixture
def runtime_for():
    """runtime_for("catalog") -> the catalog Runtime on an emptied test database."""
    emptied: set[str] = set()

    def get(name: str):
        ensure_database(name)
        if name not in emptied:
            empty_tables(name)
            emptied.add(name)
        return service.runtime(name)

    return get


@pytest.fixture
def sqlite_runtime_for(tmp_path):
    """sqlite_runtime_for("promotion") -> a Runtime on a fresh, migrated SQLite file, whatever
    database the session uses: for what must hold on the `make run` default too."""
    from dataclasses import replace

    from .runtime import Runtime

    made: list[Runtime] = []

    def get(name: str) -> Runtime:
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        migrate.upgrade(name, url)
        rt = Runtime(name, service.module(name, "models").Base, replace(Settings.load(name), database_url=url))
        made.append(rt)
        return rt

    yield get
    for rt in made:
        rt.engine.dispose()


@pytest.fixture
def machine_in_shanghai(monkeypatch):
    """The process's local zone is Asia/Shanghai (TZ), as on a developer's machine in China: a
    naive time taken for local time is then 8 hours off UTC."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _server_environment() -> dict:
    """The MALL_* settings a server may read when it starts (where to find others excepted)."""
    return {k: v for k, v in os.environ.items() if k.startswith("MALL_") and not k.endswith("_GRPC_TARGET")}


@pytest.fixture
def grpc_target_for(runtime_for):
    """grpc_target_for("catalog") -> "127.0.0.1:<port>" of the service's real server, started once
    per session in this process (full interceptor stack, no relay: see relay_for)."""
    from . import grpc_server

    def get(name: str) -> str:
        runtime_for(name)
        environment = _server_environment()
        server, built_in = _state["servers"].get(name), _state["server_env"].get(name)
        if server is not None and built_in != environment:
            server.stop()  # a test changed what the service reads at start-up: build it anew
            server = None
        if server is None:
            server = grpc_server.build_server(name, port=0, host="127.0.0.1", with_relay=False)
            _state["servers"][name], _state["server_env"][name] = server, environment
        return f"127.0.0.1:{server.port}"

    return get


@pytest.fixture
def grpc_stub_for(grpc_target_for):
    """grpc_stub_for("catalog", CatalogStub) -> a stub on the service's real server."""
    from . import grpc_client

    def get(name: str, stub_class):
        return stub_class(grpc_client.channel(name, target=grpc_target_for(name)))

    return get


@pytest.fixture
def amqp_url() -> str:
    return os.environ["MALL_AMQP_URL"]


@pytest.fixture
def relay_for(runtime_for):
    """relay_for("catalog") starts that service's outbox relay for this test."""
    from .outbox import OutboxRelay

    relays = []

    def start(name: str) -> OutboxRelay:
        relay = OutboxRelay(runtime_for(name), poll_seconds=0.05)
        relay.start()
        if not relay.connected.wait(10):
            raise RuntimeError("the outbox relay could not reach RabbitMQ")
        relays.append(relay)
        return relay

    yield start
    for relay in relays:
        relay.stop()


class Subscription(NamedTuple):
    source: str
    event_type: str
    queue: str


def worker_subscriptions(name: str) -> list[Subscription]:
    """The events `name`'s worker handles, with their queues (read from its nameko entrypoints)."""
    from .worker import handler_queue

    worker_cls = service.module(name, "worker").Worker
    found = []
    for attr in dir(worker_cls):
        for entry in getattr(getattr(worker_cls, attr), "nameko_entrypoints", ()):
            if hasattr(entry, "event_type"):
                found.append(Subscription(entry.source_service, entry.event_type,
                                          handler_queue(entry.source_service, entry.event_type,
                                                        name, attr)))
    return found


def worker_queues(name: str) -> list[str]:
    """The queues `name`'s worker consumes."""
    return [s.queue for s in worker_subscriptions(name)]


def declare_subscriber_queues(source: str, event_type: str) -> list[str]:
    """Declares and binds, exactly as their workers would, the queue of every service's handler
    of `event_type`, without starting the workers: the broker then routes what a relay publishes
    (as in a deployment) instead of returning it as unroutable. Returns the queues."""
    queues = [s.queue for name in SERVICES for s in worker_subscriptions(name)
              if (s.source, s.event_type) == (source, event_type)]
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["MALL_AMQP_URL"]))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange_name(source), exchange_type="topic", durable=True)
        for queue in queues:  # nameko's EventHandler: durable, not auto-deleted, not exclusive
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, exchange_name(source), routing_key=event_type)
    finally:
        connection.close()
    return queues


def purge_queues(queues: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["MALL_AMQP_URL"]))
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing to purge
                pass
            finally:
                if channel.is_open:
                    channel.close()
    finally:
        connection.close()


class WorkerProcess:
    """`python -m servicekit worker <name>` as a real process, on the test database and vhost."""

    def __init__(self, name: str, extra_env: dict | None = None):
        self.name = name
        self.env = {**os.environ, **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(_state["tmp"]) / f"{name}-worker-{uuid.uuid4().hex[:6]}.log"

    def start(self, timeout: float = 30) -> "WorkerProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "servicekit", "worker", self.name],
                                     cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_consuming(self.proc, timeout)
        return self

    def _wait_consuming(self, proc: subprocess.Popen, timeout: float) -> None:
        queues = worker_queues(self.name)
        params = pika.URLParameters(self.env["MALL_AMQP_URL"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name} worker exited: {self.log_path.read_text()[-3000:]}")
            try:
                connection = pika.BlockingConnection(params)
                try:
                    channel = connection.channel()
                    if all(channel.queue_declare(q, passive=True).method.consumer_count > 0
                           for q in queues):
                        return
                finally:
                    if connection.is_open:
                        connection.close()
            except pika.exceptions.AMQPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} worker not consuming after {timeout}s: "
                           f"{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class ApiProcess:
    """`python -m servicekit api <name> [--part <part>]` as a real process on a free port, waited
    for until its health service says SERVING (benchmarks, tests that need a process)."""

    def __init__(self, name: str, extra_env: dict | None = None, part: str = "",
                 port_setting: str = "GRPC_PORT"):
        self.name, self.part = name, part
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, f"MALL_{name.upper()}_{port_setting}": str(self.port),
                    **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        folder = Path(_state.get("tmp") or tempfile.mkdtemp(prefix="mall-api-"))
        self.log_path = folder / f"{name}{'-' + part if part else ''}-api-{uuid.uuid4().hex[:6]}.log"

    def start(self, timeout: float = 60) -> "ApiProcess":
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        command = [sys.executable, "-m", "servicekit", "api", self.name]
        if self.part:
            command += ["--part", self.part]
        self.proc = subprocess.Popen(command, cwd=REPO_ROOT, env=self.env,
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        return self
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} api did not become SERVING: {self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> "ApiProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def worker_process(runtime_for):
    """worker_process("analytics") -> a started WorkerProcess (stopped after the test)."""
    started: list[WorkerProcess] = []

    def start(name: str, extra_env: dict | None = None) -> WorkerProcess:
        runtime_for(name)
        if not any(p.name == name for p in started):
            purge_queues(worker_queues(name))  # what earlier tests left queued is not this test's
        proc = WorkerProcess(name, extra_env).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


class Received(NamedTuple):
    method: object
    properties: pika.BasicProperties
    envelope: dict
    body: bytes


class EventListener:
    """A queue bound to `<source>.events` for `event_type`, as a consuming service would have:
    what a relay publishes, the test reads back exactly as it travelled."""

    def __init__(self, source: str, event_type: str):
        self.event_type = event_type
        self._connection = pika.BlockingConnection(pika.URLParameters(os.environ["MALL_AMQP_URL"]))
        self._channel = self._connection.channel()
        self._channel.exchange_declare(exchange_name(source), exchange_type="topic", durable=True)
        self._queue = self._channel.queue_declare("", exclusive=True).method.queue
        self._channel.queue_bind(self._queue, exchange_name(source), routing_key=event_type)

    def next(self, timeout: float = 15.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, properties, body = self._channel.basic_get(self._queue, auto_ack=True)
            if method:
                assert properties is not None and body is not None  # they come with a message
                return Received(method, properties, json.loads(body), body)
            time.sleep(0.05)
        pytest.fail(f"no {self.event_type} was published within {timeout}s")

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()


@pytest.fixture
def listen_for(amqp_url):
    """listen_for("catalog", "product.published") -> an EventListener, closed after the test.
    Start listening before the event is published (the queue only gets what comes after)."""
    listeners: list[EventListener] = []

    def listen(source: str, event_type: str) -> EventListener:
        listeners.append(EventListener(source, event_type))
        return listeners[-1]

    yield listen
    for listener in listeners:
        listener.close()


def publish_event(source: str, event_type: str, data, *, event_id: str | None = None,
                  headers: dict | None = None) -> dict:
    """Publishes an envelope exactly as `source`'s relay would; returns it."""
    envelope = make_envelope(source, event_type, data, event_id=event_id)
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["MALL_AMQP_URL"]))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(exchange_name(source), exchange_type="topic", durable=True)
        channel.basic_publish(exchange_name(source), event_type,
                              json.dumps(envelope, ensure_ascii=False).encode(),
                              pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                   message_id=envelope["id"], headers=headers or {}),
                              mandatory=True)
    finally:
        connection.close()
    return envelope


@pytest.fixture(name="publish_event")
def publish_event_fixture(amqp_url):
    return publish_event


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Polls `predicate` until it returns something truthy; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


@pytest.fixture(name="wait_until")
def wait_until_fixture():
    return wait_until


def check_lock_order(runtime, *, hold, work, then_take) -> None:
    """A lock-order check (PostgreSQL's row locks; skipped elsewhere). In one transaction
    `hold(session)` takes a lock `work` needs; `work()` runs on a thread, in its own
    transaction, until it waits on a lock; then `then_take(session)` takes a second lock that
    `work` also needs. It must get it within 3 s, which it can only if `work` took no lock out of
    the shared order while it waited (else this fails on the lock timeout instead of
    deadlocking), and `work` must then finish without error."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    failures: list[Exception] = []

    def run() -> None:
        try:
            work()
        except Exception as err:  # surfaced below
            failures.append(err)

    thread = threading.Thread(target=run)
    with runtime.transaction() as session:
        hold(session)
        thread.start()
        with runtime.engine.connect() as watch:
            wait_until(lambda: watch.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")) >= 1, timeout=10, message="the work waiting on a lock")
        session.execute(text("SET LOCAL lock_timeout = '3s'"))
        then_take(session)
    thread.join(20)
    assert not thread.is_alive() and failures == []




def deliver_in_process(name: str, source: str, event_type: str, message, *,
                       event_id: str | None = None) -> dict:
    """Runs every handler of `name`'s worker subscribed to `event_type` in this process, through
    the kit's inbox, as RabbitMQ would hand them the envelope (JSON body); the same `event_id`
    again is a redelivery. For handlers that need nothing but the runtime; returns the envelope."""
    import types

    worker_cls = service.module(name, "worker").Worker
    envelope = make_envelope(source, event_type, message, event_id=event_id)
    body = json.loads(json.dumps(envelope))
    worker = types.SimpleNamespace(name=name, runtime=service.runtime(name),
                                   worker_ctx=types.SimpleNamespace(context_data={}))
    methods = [attr for attr in dir(worker_cls)
               for entry in getattr(getattr(worker_cls, attr), "nameko_entrypoints", ())
               if (getattr(entry, "source_service", None),
                   getattr(entry, "event_type", None)) == (source, event_type)]
    assert methods, f"{name}'s worker does not subscribe to {source} {event_type}"
    for method in methods:
        getattr(worker_cls, method)(worker, body)
    return envelope
