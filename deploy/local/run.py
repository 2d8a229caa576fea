"""`make run`: the whole suite on one machine, with a demo shop.

Makes sure RabbitMQ answers, migrates every service's SQLite database under var/, starts every
process of deploy/local/Procfile, waits for the gateway, seeds the demo shop and prints where to
go. Ctrl-C stops everything. Running it again reuses the databases and the seed.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
from urllib.parse import urlsplit

import grpc

from servicekit.config import GATEWAY_PORT, REPO_ROOT, env, var_dir

from . import seed
from .broker import BrokerUnavailable, amqp_url, ensure_broker
from .launcher import ProcessDied, Suite, local_environment, migrate_all, procfile_commands

READY_TIMEOUT_SECONDS = 180.0  # a cold first start imports a lot on 2 cores


def gateway_url() -> str:
    host = env("HOST", "127.0.0.1", "gateway")
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{env('PORT', str(GATEWAY_PORT), 'gateway')}"


def banner(url: str, shop: seed.DemoShop) -> str:
    lines = [
        "",
        "=" * 72,
        f"The mall is up. Gateway: {url}",
        f"  {url}/docs           the API, explorable",
        f"  {url}/openapi.json   the API's description",
        f"  {url}/v1/products    the shop's products",
        f"  {url}/v1/search?q=无钢圈   search, in Chinese",
        f"  {url}/metrics        the gateway's metrics",
        f"  {url}/readyz         readiness of the services behind it",
    ]
    if shop.admin_username:
        lines += [f"Admin console sign-in (POST {url}/v1/admin/auth/login):",
                  f"  username: {shop.admin_username}", f"  password: {shop.admin_password}"]
    lines += [*shop.notes, "Ctrl-C stops everything.", "=" * 72, ""]
    return "\n".join(lines)


def port_taken(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


SEED_ATTEMPTS = 3


def seed_with_retries(admin_password: str, suite: Suite) -> seed.DemoShop:
    """The seed is idempotent, so a failed attempt is simply tried again; if it keeps failing,
    the suite stays up without (all of) the demo shop and the banner says so."""
    for attempt in range(1, SEED_ATTEMPTS + 1):
        try:
            return seed.seed_demo_shop(admin_password, say=suite.say)
        except (grpc.RpcError, TimeoutError) as err:
            detail = err.details() if isinstance(err, grpc.RpcError) else str(err)
            suite.say(f"seeding the demo shop failed (attempt {attempt} of {SEED_ATTEMPTS}): {detail}")
    return seed.DemoShop(notes=["(seeding the demo shop failed: see the lines above; the suite "
                                "runs without it, and the next `make run` tries again)"])


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main() -> int:
    os.chdir(REPO_ROOT)
    url = gateway_url()
    if port_taken(url):
        print(f"make run: something already listens on {url} (another `make run`?). Stop it, "
              "or set MALL_GATEWAY_PORT.", file=sys.stderr)
        return 1
    admin = seed.demo_admin_environment(var_dir())
    environment = local_environment(**admin)
    try:
        ensure_broker(amqp_url())
    except BrokerUnavailable as err:
        print(f"make run: {err}", file=sys.stderr)
        return 2
    (var_dir() / "media").mkdir(parents=True, exist_ok=True)
    try:
        migrate_all(environment, say=lambda text: print(text, flush=True))
    except RuntimeError as err:
        print(f"make run: {err}", file=sys.stderr)
        if "Can't locate revision" in str(err):
            print("make run: a database under var/ was migrated by code that no longer exists "
                  "(a rewritten migration): remove that service's var/<service>.db, or everything "
                  "with `make clean`.", file=sys.stderr)
        return 1

    suite = Suite(procfile_commands(), environment)
    # Ctrl-C stops the suite even when whatever started us ignored SIGINT (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # `kill` stops the suite as Ctrl-C does
    try:
        suite.start_all()
        suite.say(f"waiting for {url}/readyz ...")
        suite.wait_http_ok(f"{url}/readyz", timeout=READY_TIMEOUT_SECONDS)
        shop = seed_with_retries(admin["MALL_ADMIN_PASSWORD"], suite)
        print(banner(url, shop), flush=True)
        name = suite.watch()
        suite.say(f"{name} exited with {suite.processes[name].returncode}: stopping everything")
        return 1
    except KeyboardInterrupt:
        suite.say("stopping everything ...")
        return 0
    except (ProcessDied, TimeoutError) as err:
        suite.say(f"make run failed: {err}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan anyone
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        suite.stop_all()


if __name__ == "__main__":
    sys.exit(main())
