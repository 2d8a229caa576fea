"""The whole suite as real processes, for journeys through the gateway.

Started with the same launcher and Procfile as `make run`, but on fresh databases (PostgreSQL
`mall_e2e_<service>_<pid>` when 127.0.0.1:5432 answers, else SQLite files in a temp dir), a
fresh RabbitMQ vhost, and free ports, so it never meets a `make run` or another test session.
"""
from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.local import seed
from deploy.local.broker import broker_answers
from deploy.local.launcher import Suite, local_environment, migrate_all, procfile_commands
from servicekit import sealing
from servicekit.config import PARTS, SERVICES
from servicekit.pii import Cipher
from servicekit.ports import free_port
from servicekit.testing import create_database, create_vhost, delete_vhost, drop_databases, use_postgres

AMQP_BASE = os.environ.get("MALL_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
READY_TIMEOUT_SECONDS = 240.0  # 18 cold Python processes on a shared 2-core machine
ADMIN_USERNAME = "e2e-admin"


@dataclass
class Resources:
    """What the harness created and must remove."""
    databases: list[str]
    vhost: str | None


def create_databases(run_id: str, tmp: Path,
                     pg_admin_url: str | None = None) -> tuple[dict[str, str], list[str]]:
    """service -> database URL, and the PostgreSQL databases created (on `pg_admin_url`'s
    cluster when given)."""
    if not pg_admin_url and not use_postgres():
        return {s: f"sqlite:///{tmp / (s + '.db')}" for s in SERVICES}, []
    names = {service: f"mall_e2e_{service}_{run_id}" for service in SERVICES}
    return ({service: create_database(db, pg_admin_url) for service, db in names.items()},
            list(names.values()))


def e2e_vhost(run_id: str) -> str | None:
    vhost = f"mall_e2e_{run_id}"
    return vhost if create_vhost(vhost) else None


class RunningMall:
    def __init__(self, tmp: Path, settings: dict[str, str] | None = None, *,
                 pg_admin_url: str | None = None, amqp_url: str | None = None):
        """`settings`: MALL_ variables for the suite's processes, over the harness's own;
        `pg_admin_url`, `amqp_url`: a private PostgreSQL cluster and RabbitMQ node (fault tests
        restart them) instead of the shared ones."""
        self.tmp = tmp
        self.pg_admin_url, self.private_amqp_url = pg_admin_url, amqp_url
        self.settings = dict(settings or {})
        self.run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
        self.admin_password = secrets.token_urlsafe(12)
        self.expected_dead_letters: set[str] = set()
        self.event_keys = "e2e:" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.gateway_port = free_port()
        self.ports = {s: free_port() for s in SERVICES}
        self.part_ports = {(service, part): free_port() for service, part in PARTS}
        self.resources = Resources([], None)
        self.suite: Suite | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def targets(self) -> dict[str, str]:
        return {s: f"127.0.0.1:{p}" for s, p in self.ports.items()}

    def environment(self, database_urls: dict[str, str], amqp_url: str) -> dict[str, str]:
        wechat_port = free_port()
        overrides = {
            "MALL_VAR_DIR": str(self.tmp / "var"),
            "MALL_MEDIA_ROOT": str(self.tmp / "media"),
            "MALL_AMQP_URL": amqp_url,
            "MALL_JWT_SECRET": secrets.token_urlsafe(32),
            # the events key of the holders (servicekit.sealing), known here so a journey can
            # publish an event with personal fields as order would (event_sealer)
            "MALL_EVENT_PII_KEYS": self.event_keys,
            "MALL_ADMIN_USERNAME": ADMIN_USERNAME,
            "MALL_ADMIN_PASSWORD": self.admin_password,
            "MALL_API_METRICS_PORT": "0",  # nobody scrapes them here: any free port
            "MALL_WORKER_METRICS_PORT": "0",
            "MALL_DRAIN_SECONDS": "0.5",
            "MALL_GATEWAY_HOST": "127.0.0.1",
            "MALL_GATEWAY_PORT": str(self.gateway_port),
            "MALL_GATEWAY_READY_SERVICES": "catalog,member,analytics",
            "MALL_WECHAT_STANDIN_PORT": str(wechat_port),
            "MALL_WECHAT_API_BASE": f"http://127.0.0.1:{wechat_port}",
            # the carrier's and payment's stand-ins on free ports: parallel sessions would share 8091-8095
            **{f"MALL_{name}_STANDIN_PORT": str(free_port())
               for name in ("CARRIER", "WECHATPAY", "ALIPAY", "CARD")},
            # an unpaid order cancels within seconds here (a flash-sale one too: its own window),
            # so the timeout journeys stay short
            "MALL_ORDER_PAY_WINDOW_MINUTES": "0.15",
            "MALL_ORDER_FLASH_PAY_WINDOW_MINUTES": "0.15",
            # promotion looks for coupons ending within three days every second, so a reminder
            # journey sees its reminder at once (each coupon is still reminded once)
            "MALL_PROMOTION_REMIND_SECONDS": "1",
            # pre-sale balance windows open and close within a second of their time (the
            # pre-sale journey's windows last seconds)
            "MALL_ORDER_PRESALE_TIMER_SECONDS": "1",
            # Every journey signs in from 127.0.0.1, and the OpenAPI fuzzer hammers sign-in: the
            # limiter (tested on its own in gateway/tests/test_ratelimit.py) must not refuse them.
            "MALL_GATEWAY_LOGIN_BURST": "100000",
            "MALL_GATEWAY_LOGIN_PER_MINUTE": "100000",
            # A connection budget that fits the machine's PostgreSQL (max_connections=100, shared
            # with other test sessions): at most 3 per process (+1 LISTEN per outbox relay), 16
            # processes, ~56 in all. The defaults (api 5+5, worker 10 each) let one busy suite ask
            # for ~170 and fail with "too many clients", parking events. Requests and handlers
            # wait for a pooled connection instead; on two cores more would not run any faster.
            # No overflow: an overflow connection is closed when it comes back, so under load
            # each process opened and closed connections all the time (~2 new PostgreSQL
            # backends per order in the checkout bench, each a fork and cold caches).
            "MALL_DB_POOL_SIZE": "3",
            "MALL_DB_MAX_OVERFLOW": "0",
        }
        for service, port in self.ports.items():
            key = service.upper()
            overrides[f"MALL_{key}_DATABASE_URL"] = database_urls[service]
            overrides[f"MALL_{key}_GRPC_PORT"] = str(port)
            overrides[f"MALL_{key}_GRPC_TARGET"] = f"127.0.0.1:{port}"
            # The kit's test session sets these for its own processes; ours use the general ones.
            for specific in ("API_METRICS_PORT", "WORKER_METRICS_PORT"):
                overrides[f"MALL_{key}_{specific}"] = ""
        for (service, part), port in self.part_ports.items():  # order-import
            prefix = f"MALL_{service.upper()}_{part.upper()}"
            overrides[f"{prefix}_GRPC_PORT"] = str(port)
            overrides[f"{prefix}_GRPC_TARGET"] = f"127.0.0.1:{port}"
        # Only our own MALL_ settings: earlier tests of this pytest session point payment at their
        # in-process provider stand-ins (MALL_PAYMENT_WECHATPAY_API_BASE ...), which the suite's
        # processes would otherwise inherit and talk to with the wrong keys.
        base = {name: value for name, value in os.environ.items() if not name.startswith("MALL_")}
        return local_environment(base, **{**overrides, **self.settings})

    def start(self) -> None:
        database_urls, self.resources.databases = create_databases(self.run_id, self.tmp,
                                                                   self.pg_admin_url)
        if self.private_amqp_url:
            amqp_url = self.private_amqp_url
        else:
            self.resources.vhost = e2e_vhost(self.run_id)
            # Without rabbitmqctl, the default vhost: counts are still compared before and after.
            amqp_url = f"{AMQP_BASE}/{self.resources.vhost or '%2F'}"
        env = self.environment(database_urls, amqp_url)
        self.suite = Suite(procfile_commands(), env, log_dir=self.tmp / "logs")
        self.suite.say(f"e2e: {self.url}, logs in {self.tmp / 'logs'}")
        migrate_all(env, say=self.suite.say)
        self.suite.start_all()
        self.suite.wait_http_ok(f"{self.url}/readyz", timeout=READY_TIMEOUT_SECONDS)
        seed.seed_demo_shop(self.admin_password, say=self.suite.say, targets=self.targets,
                            admin_only=True)

    def stop(self) -> None:
        try:
            if self.suite:
                self.suite.stop_all(grace=10)
        finally:
            drop_databases(self.resources.databases, self.pg_admin_url)
            if self.resources.vhost:
                delete_vhost(self.resources.vhost)

    def expect_dead_letters_about(self, text: str) -> None:
        """A journey that plays one service by hand (an order only logistics knows of) makes the
        others park what they cannot place: `dead_letters` leaves out the lines naming `text`."""
        self.expected_dead_letters.add(text)

    def dead_letters(self, service: str) -> list[str]:
        """What `python -m servicekit deadletters <service> list` shows, one JSON line each (less
        those a journey said to expect)."""
        listed = subprocess.run([sys.executable, "-m", "servicekit", "deadletters", service, "list"],
                                cwd=self.suite.cwd, env=self.suite.env, capture_output=True,
                                text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        return [line for line in listed.stdout.splitlines() if line.strip()
                and not any(text in line for text in self.expected_dead_letters)]

    def event_sealer(self) -> Cipher:
        """What seals personal fields in the events the suite's holders read."""
        return sealing.cipher_from(self.event_keys)

    # --- talking to it ----------------------------------------------------------------------
    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def admin_token(self) -> str:
        with self.client() as http:
            reply = http.post("/v1/admin/auth/login",
                              json={"username": ADMIN_USERNAME, "password": self.admin_password})
        assert reply.status_code == 200, reply.text
        return reply.json()["tokens"]["access_token"]

    def wait_until(self, predicate, timeout: float = 30.0, what: str = "a condition"):
        """Polls `predicate` until it returns something truthy, failing early (with the dead
        process's log) if a process of the suite dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self.suite.check_alive()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what} "
                                     f"(each process's log: {self.tmp / 'logs'})")
            time.sleep(0.2)


def broker_reachable() -> bool:
    return broker_answers(f"{AMQP_BASE}/%2F")


def running_suite(tmp_path_factory, name: str):
    """A whole suite for a fixture to yield (the session's `mall`, or a module's own), stopped after."""
    import pytest

    if not broker_reachable():
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672 (apt-get install rabbitmq-server)")
    running = RunningMall(tmp_path_factory.mktemp(name))
    try:
        running.start()
        yield running
    finally:
        running.stop()
