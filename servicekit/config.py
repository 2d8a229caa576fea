"""Settings from the environment, with defaults that make `make run` work on one machine.

Lookup order for a key K of service S: ``MALL_<S>_<K>``, then ``MALL_<K>``, then the default.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import overload

# name -> (grpc port, api metrics port, worker metrics port). One table, so ports never collide.
SERVICES: dict[str, tuple[int, int, int]] = {
    "catalog": (50051, 9101, 9201),
    "member": (50052, 9102, 9202),
    "promotion": (50053, 9103, 9203),
    "order": (50054, 9104, 9204),
    "payment": (50055, 9105, 9205),
    "logistics": (50056, 9106, 9206),
    "support": (50057, 9107, 9207),
    "analytics": (50058, 9108, 9208),
}
# Services that exist only for the kit's own tests and benchmarks (never deployed, never listed
# where SERVICES is): name -> ports, as above.
EXTRA_SERVICES: dict[str, tuple[int, int, int]] = {}
ORDER_IMPORT_PORT = 50059
# Separately deployed parts of a service's api (`python -m servicekit api <service> --part <part>`,
# module services.<service>.<part>_api, same database): (service, part) -> (grpc port, metrics
# port); MALL_<SERVICE>_<PART>_GRPC_PORT and _API_METRICS_PORT override them.
PARTS: dict[tuple[str, str], tuple[int, int]] = {
    ("order", "import"): (ORDER_IMPORT_PORT, 9109),
}
GATEWAY_PORT = 8000

REPO_ROOT = Path(__file__).resolve().parent.parent


@overload
def env(key: str, default: str, service: str | None = None) -> str: ...
@overload
def env(key: str, default: None = None, service: str | None = None) -> str | None: ...
def env(key: str, default: str | None = None, service: str | None = None) -> str | None:
    """The key's value for `service` (see the lookup order above); with a default, never None."""
    if service:
        specific = os.environ.get(f"MALL_{service.upper()}_{key}")
        if specific not in (None, ""):
            return specific
    value = os.environ.get(f"MALL_{key}")
    return default if value in (None, "") else value


def env_int(key: str, default: int, service: str | None = None) -> int:
    return int(env(key, str(default), service))


def env_float(key: str, default: float, service: str | None = None) -> float:
    return float(env(key, str(default), service))


def var_dir() -> Path:
    path = Path(env("VAR_DIR", str(REPO_ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def grpc_target(service: str) -> str:
    """Where a client finds `service` (host:port)."""
    return env("GRPC_TARGET", f"127.0.0.1:{SERVICES[service][0]}", service)


def part_target(service: str, part: str) -> str:
    """Where a client finds a separately deployed part of `service`'s api (PARTS), e.g.
    MALL_ORDER_IMPORT_GRPC_TARGET for ("order", "import")."""
    return env(f"{part.upper()}_GRPC_TARGET", f"127.0.0.1:{PARTS[(service, part)][0]}", service)


def order_import_max_bytes() -> int:
    """The largest order file accepted (MALL_ORDER_IMPORT_MAX_BYTES): order's import part refuses
    it, and the gateway refuses it early, before spooling it."""
    return env_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024, "order")


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    amqp_url: str
    grpc_port: int
    api_metrics_port: int
    worker_metrics_port: int
    grpc_workers: int
    drain_seconds: float
    log_level: str
    db_pool_size: int       # connections kept open; as many again may be opened at peaks
    db_max_overflow: int
    db_pre_ping: bool

    @classmethod
    def load(cls, service: str) -> "Settings":
        ports = SERVICES.get(service) or EXTRA_SERVICES.get(service)
        if ports is None:
            raise ValueError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
        port, api_metrics, worker_metrics = ports
        default_db = f"sqlite:///{var_dir() / (service + '.db')}"
        return cls(
            service=service,
            database_url=env("DATABASE_URL", default_db, service),
            amqp_url=env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", service),
            grpc_port=env_int("GRPC_PORT", port, service),
            api_metrics_port=env_int("API_METRICS_PORT", api_metrics, service),
            worker_metrics_port=env_int("WORKER_METRICS_PORT", worker_metrics, service),
            grpc_workers=env_int("GRPC_WORKERS", 16, service),
            drain_seconds=env_float("DRAIN_SECONDS", 5.0, service),
            log_level=env("LOG_LEVEL", "INFO", service),
            # Modest by default: sixteen processes share one PostgreSQL in the tests (100 clients).
            db_pool_size=env_int("DB_POOL_SIZE", 5, service),
            db_max_overflow=env_int("DB_MAX_OVERFLOW", 5, service),
            db_pre_ping=env("DB_PRE_PING", "1", service) == "1",
        )
