"""The `mall` fixture: the whole suite, started once for the e2e tests of a session. Each
process's output is in <pytest's tmp dir>/e2e*/logs/<process>.log."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import RunningMall, running_suite


@pytest.fixture(scope="session")
def mall(tmp_path_factory) -> Iterator[RunningMall]:
    yield from running_suite(tmp_path_factory, "e2e")


@pytest.fixture(scope="session")
def admin_token(mall: RunningMall) -> str:
    return mall.admin_token()
