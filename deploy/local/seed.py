"""The demo shop of `make run`: the first admin, the catalog, and stock in the warehouses.

Idempotent: every part keeps what exists, so a second `make run` changes nothing. The admin's
password is made up on the first run and kept in var/demo_admin_password (mode 0600, this machine
only) so that every run can print it; set MALL_ADMIN_PASSWORD to choose it yourself.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servicekit import context, grpc_client
from servicekit.config import env

SEED_IDENTITY = context.CallContext(user_id="make-run-seed", roles=("admin",))
SERVICE_READY_TIMEOUT_SECONDS = 90.0


@dataclass
class DemoShop:
    admin_username: str = ""
    admin_password: str = ""
    notes: list[str] = field(default_factory=list)


def demo_admin_environment(var_dir: Path) -> dict[str, str]:
    """MALL_ADMIN_USERNAME/PASSWORD for the member service, so the bootstrap creates the admin
    with a password this script can print again on the next run."""
    username = env("ADMIN_USERNAME", "admin")
    password = env("ADMIN_PASSWORD")
    if not password:
        stored = var_dir / "demo_admin_password"
        if not stored.exists():
            var_dir.mkdir(parents=True, exist_ok=True)
            stored.touch(mode=0o600)
            stored.write_text(secrets.token_urlsafe(12) + "\n")
        password = stored.read_text().strip()
    return {"MALL_ADMIN_USERNAME": username, "MALL_ADMIN_PASSWORD": password}


Targets = dict[str, str]  # service -> host:port, where the suite's apis are not on their defaults


def wait_serving(service: str, targets: Targets | None = None,
                 timeout: float = SERVICE_READY_TIMEOUT_SECONDS) -> grpc.Channel:
    """A channel to `service` once its health service says SERVING."""
    channel = grpc_client.channel(service, target=(targets or {}).get(service))
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return channel
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            channel.close()
            raise TimeoutError(f"{service} did not become SERVING within {timeout:.0f}s")
        time.sleep(0.5)


def ensure_admin(shop: DemoShop, admin_password: str, say: Callable[[str], None],
                 targets: Targets | None = None) -> None:
    from mall.member.v1 import member_pb2, member_pb2_grpc

    channel = wait_serving("member", targets)
    try:
        reply = member_pb2_grpc.StaffServiceStub(channel).EnsureAdmin(
            member_pb2.EnsureAdminRequest(), timeout=10.0)
    finally:
        channel.close()
    shop.admin_username = reply.admin.username
    shop.admin_password = reply.generated_password or admin_password
    say(f"admin {reply.admin.username!r} " + ("created" if reply.created else "already there"))


def seed_catalog_and_stock(shop: DemoShop, say: Callable[[str], None],
                           targets: Targets | None = None) -> None:
    from deploy.local import seed_catalog, seed_logistics

    channel = wait_serving("catalog", targets)
    try:
        skus = seed_catalog.seed(channel)
    finally:
        channel.close()
    say("catalog seeded")
    seed_promotions(say, skus, targets)
    channel = wait_serving("logistics", targets)
    try:
        seed_logistics.seed(channel, skus)
    finally:
        channel.close()
    say("warehouses and stock seeded")


def seed_promotions(say: Callable[[str], None], skus: list[dict], targets: Targets | None) -> None:
    from deploy.local import seed_promotion

    channel = wait_serving("promotion", targets)
    try:
        created = seed_promotion.seed(channel, skus)
    finally:
        channel.close()
    say(f"promotions seeded ({', '.join(created)})" if created else "promotions already there")


def seed_demo_shop(admin_password: str, say: Callable[[str], None] = print, *,
                   targets: Targets | None = None, admin_only: bool = False) -> DemoShop:
    """`admin_password`: the MALL_ADMIN_PASSWORD the member service was started with."""
    shop = DemoShop()
    token = context.set_current(SEED_IDENTITY)  # the kit's client interceptor sends it as metadata
    try:
        ensure_admin(shop, admin_password, say, targets)
        if not admin_only:
            seed_catalog_and_stock(shop, say, targets)
    finally:
        context.reset(token)
    return shop
