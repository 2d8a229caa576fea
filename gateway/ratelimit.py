"""Token buckets per client IP, for the sign-in routes (slows password and code guessing).

In-process: each gateway replica keeps its own buckets, so N replicas admit N times the rate.
That is acceptable for brute-force slowing; a shared limit would need Redis.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

from fastapi import Request

from .problems import Problem


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`burst` requests at once, refilled at `per_minute` a minute; one bucket per key."""

    MAX_KEYS = 100_000  # bounds memory under a flood of spoofed or distinct addresses

    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic):
        if burst < 1 or per_minute <= 0:
            raise ValueError("burst must be >= 1 and per_minute > 0")
        self.burst = burst
        self.rate = per_minute / 60.0  # tokens a second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when admitted, else the seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely is the same as no bucket.
        refill = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill]:
            del self._buckets[key]
        if len(self._buckets) >= self.MAX_KEYS:  # still full: drop the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: self.MAX_KEYS // 2]:
                del self._buckets[key]


def client_ip(request: Request, trust_forwarded_for: bool) -> str:
    """The caller's address. Behind one trusted proxy (configured), the right-most
    X-Forwarded-For entry: the one that proxy appended. Entries left of it are whatever the
    client sent, so they are never believed."""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.client.host if request.client else "unknown"


async def limit_logins(request: Request) -> None:
    """Dependency for the sign-in routes: 429 with Retry-After when the caller's bucket is empty.
    Async so it runs on the event loop, never two at once on a bucket."""
    limiter: TokenBucketLimiter = request.app.state.login_limiter
    ip = client_ip(request, request.app.state.settings.trust_forwarded_for)
    wait = limiter.take(ip)
    if wait > 0:
        raise Problem(429, "rate-limited", "too many sign-in attempts from this address; "
                      f"try again in {math.ceil(wait)} s",
                      headers={"Retry-After": str(math.ceil(wait))})
