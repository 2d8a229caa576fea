"""The `mall` fixture: the whole suite, started once for the e2e tests of a session. Each
process's output is in <pytest's tmp dir>/e2e*/logs/<process>.log."""
from __future__ import annotations

import pytest

from .harness import RunningMall, broker_reachable


@pytest.fixture(scope="session")
def mall(tmp_path_factory) -> RunningMall:
    if not broker_reachable():
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672 (apt-get install rabbitmq-server)")
    running = RunningMall(tmp_path_factory.mktemp("e2e"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def admin_token(mall: RunningMall) -> str:
    return mall.admin_token()
