"""The gateway's settings, read from the environment by servicekit's rules (MALL_GATEWAY_<K>,
then MALL_<K>, then the default)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from servicekit.config import GATEWAY_PORT, env, env_float, env_int, var_dir


@dataclass(frozen=True)
class GatewaySettings:
    host: str
    port: int
    media_root: Path
    rpc_timeout: float
    ready_services: tuple[str, ...] | None  # None: every service whose routes are mounted
    login_burst: int
    login_per_minute: float
    trust_forwarded_for: bool
    listing_cache_seconds: float

    @classmethod
    def load(cls) -> "GatewaySettings":
        ready = env("READY_SERVICES", None, "gateway")
        return cls(
            host=env("HOST", "127.0.0.1", "gateway") or "127.0.0.1",
            port=env_int("PORT", GATEWAY_PORT, "gateway"),
            media_root=Path(env("MEDIA_ROOT", "", "gateway") or var_dir() / "media"),
            rpc_timeout=env_float("RPC_TIMEOUT", 5.0, "gateway"),
            ready_services=None if ready is None else tuple(
                s.strip() for s in ready.split(",") if s.strip()),
            login_burst=env_int("LOGIN_BURST", 10, "gateway"),
            login_per_minute=env_float("LOGIN_PER_MINUTE", 10.0, "gateway"),
            trust_forwarded_for=env("TRUST_FORWARDED_FOR", "0", "gateway") == "1",
            listing_cache_seconds=env_float("LISTING_CACHE_SECONDS", 2.0, "gateway"),
        )
