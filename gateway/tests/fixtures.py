"""Fixtures of the gateway's tests (loaded by conftest.py): JWT secret, settings, no services."""
from __future__ import annotations

import dataclasses

import pytest

from gateway import auth
from gateway.settings import GatewaySettings

from .helpers import SECRET


@pytest.fixture(autouse=True)
def jwt_secret(monkeypatch):
    monkeypatch.setenv("MALL_JWT_SECRET", SECRET)
    auth.reset_secret_cache()
    yield SECRET
    auth.reset_secret_cache()


@pytest.fixture
def settings(tmp_path) -> GatewaySettings:
    """Settings pointing nowhere real: services on ports nobody listens on unless a test says."""
    return dataclasses.replace(GatewaySettings.load(), media_root=tmp_path / "media",
                               rpc_timeout=2.0)


@pytest.fixture
def offline(monkeypatch):
    """Every service unreachable (a closed port), for tests of the gateway's own behaviour."""
    from servicekit.config import SERVICES
    for name in SERVICES:
        monkeypatch.setenv(f"MALL_{name.upper()}_GRPC_TARGET", "127.0.0.1:9")
