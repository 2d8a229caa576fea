"""Sign-in routes are limited per client address by a token bucket."""
from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.ratelimit import TokenBucketLimiter
from gateway.settings import GatewaySettings


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_bucket_admits_a_burst_then_refills_at_the_rate():
    clock = FakeClock()
    limiter = TokenBucketLimiter(burst=3, per_minute=6, clock=clock)  # a token every 10 s
    assert [limiter.take("1.2.3.4") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("1.2.3.4") == 10.0
    assert limiter.take("5.6.7.8") == 0.0  # another address has its own bucket
    clock.now += 4
    assert limiter.take("1.2.3.4") == pytest.approx(6.0)
    clock.now += 6
    assert limiter.take("1.2.3.4") == 0.0
    clock.now += 3600  # refills up to the burst, no more
    assert [limiter.take("1.2.3.4") for _ in range(4)][-1] > 0


def test_bucket_memory_is_bounded():
    clock = FakeClock()
    limiter = TokenBucketLimiter(burst=1, per_minute=60, clock=clock)
    limiter.MAX_KEYS = 100
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) <= 100


def test_login_flood_gets_429_with_retry_after(settings, offline):
    settings = dataclasses.replace(settings, login_burst=2, login_per_minute=1)
    with TestClient(create_app(settings)) as client:
        statuses = [client.post("/v1/auth/wechat-login", json={"code": "c"}).status_code
                    for _ in range(2)]
        limited = client.post("/v1/admin/auth/login", json={"username": "a", "password": "b"})
    assert 429 not in statuses  # the first two reach the (unreachable) member service
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["type"] == "urn:mall:problem:rate-limited"


def test_forwarded_for_counts_only_when_trusted(settings, offline):
    settings = dataclasses.replace(settings, login_burst=1, login_per_minute=1)
    with TestClient(create_app(settings)) as client:
        client.post("/v1/auth/refresh", json={"refresh_token": "x"})
        spoofed = client.post("/v1/auth/refresh", json={"refresh_token": "x"},
                              headers={"X-Forwarded-For": "9.9.9.9"})
    assert spoofed.status_code == 429
    trusted = dataclasses.replace(settings, trust_forwarded_for=True)
    with TestClient(create_app(trusted)) as client:
        def refresh(forwarded_for: str) -> int:
            return client.post("/v1/auth/refresh", json={"refresh_token": "x"},
                               headers={"X-Forwarded-For": forwarded_for}).status_code
        assert refresh("1.1.1.1, 203.0.113.7") != 429
        # The client made up the left part; the proxy's entry (right-most) is the same caller.
        assert refresh("2.2.2.2, 203.0.113.7") == 429
        assert refresh("203.0.113.8") != 429


def test_environment_raises_the_sign_in_limit(monkeypatch, tmp_path, offline):
    """A load test or a busy launch raises the limit without a code change."""
    monkeypatch.setenv("MALL_GATEWAY_LOGIN_BURST", "25")
    monkeypatch.setenv("MALL_GATEWAY_LOGIN_PER_MINUTE", "1.5")  # slow refill: the test stays exact
    settings = dataclasses.replace(GatewaySettings.load(), media_root=tmp_path / "media",
                                   rpc_timeout=2.0)
    assert (settings.login_burst, settings.login_per_minute) == (25, 1.5)
    with TestClient(create_app(settings)) as client:
        statuses = [client.post("/v1/auth/refresh", json={"refresh_token": "x"}).status_code
                    for _ in range(26)]
    assert 429 not in statuses[:25]  # the default burst (10) would have refused the 11th
    assert statuses[25] == 429


def test_an_unreadable_limit_stops_the_gateway_at_start(monkeypatch):
    monkeypatch.setenv("MALL_GATEWAY_LOGIN_PER_MINUTE", "lots")
    with pytest.raises(ValueError):
        GatewaySettings.load()
