"""Fixtures of the gateway's tests (loaded by conftest.py): JWT secret, settings, no services."""
from __future__ import annotations

import dataclasses
import os

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings


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


@pytest.fixture(scope="session")
def wechat_standin():
    """A WeChat code2Session stand-in for the member server, set in the environment before that
    server is built (it reads MALL_MEMBER_WECHAT_* once). Reuses one already configured."""
    if os.environ.get("MALL_MEMBER_WECHAT_API_BASE"):
        yield os.environ["MALL_MEMBER_WECHAT_API_BASE"]
        return
    from standins.wechat import start_in_thread  # test tooling, not gateway code
    running = start_in_thread()
    os.environ["MALL_MEMBER_WECHAT_API_BASE"] = running.base_url
    yield running.base_url
    running.stop()
    os.environ.pop("MALL_MEMBER_WECHAT_API_BASE", None)


@pytest.fixture
def gateway_with(settings, grpc_target_for, monkeypatch, wechat_standin):
    """gateway_with("member", "catalog") -> a TestClient of the gateway whose named services are
    the real servers (in-process, test PostgreSQL, emptied tables); every other service is
    unreachable."""
    from servicekit.config import SERVICES

    clients = []

    def start(*names: str) -> TestClient:
        for name in SERVICES:
            monkeypatch.setenv(f"MALL_{name.upper()}_GRPC_TARGET", "127.0.0.1:9")
        for name in names:
            monkeypatch.setenv(f"MALL_{name.upper()}_GRPC_TARGET", grpc_target_for(name))
        # The media root is the session's MALL_MEDIA_ROOT, the one catalog writes to.
        client = TestClient(create_app(dataclasses.replace(
            GatewaySettings.load(), ready_services=names, rpc_timeout=5.0)))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)
