"""Every RPC of every service has a contract test (its stub method is used in
tests/contract/test_<service>_rpcs.py), read from the generated descriptors; and every event a
service's worker subscribes to is sent to it in tests/contract/test_<service>_events.py. A new
RPC or subscription without a test fails here."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from servicekit.config import REPO_ROOT, SERVICES
from servicekit.testing import worker_subscriptions

CONTRACTS = Path(__file__).parent
GEN = REPO_ROOT / "gen" / "mall"


def rpcs_of(service: str) -> dict[str, list[str]]:
    """{"mall.member.v1.AuthService": ["WechatLogin", ...], ...} from the service's *_pb2 modules."""
    found: dict[str, list[str]] = {}
    for module_path in sorted((GEN / service / "v1").glob("*_pb2.py")):
        module = importlib.import_module(f"mall.{service}.v1.{module_path.stem}")
        for grpc_service in module.DESCRIPTOR.services_by_name.values():
            found[grpc_service.full_name] = [m.name for m in grpc_service.methods]
    return found


# every package under gen/mall with a gRPC service (not common/, not events/)
ANSWERING = sorted(p.name for p in GEN.iterdir() if (p / "v1").is_dir() and rpcs_of(p.name))


def test_the_descriptors_are_found():
    assert {"catalog", "member", "order", "promotion", "payment", "logistics", "support",
            "analytics"} == set(ANSWERING) == set(SERVICES)


@pytest.mark.parametrize("service", ANSWERING)
def test_every_rpc_is_called_in_the_services_contract_tests(service):
    tests = CONTRACTS / f"test_{service}_rpcs.py"
    assert tests.exists(), f"{service} has no {tests.name}"
    called = set(re.findall(r"\.(\w+)", tests.read_text()))  # stub.Rpc(...) or passed as stub.Rpc
    missing = [f"{name}.{rpc}" for name, methods in rpcs_of(service).items()
               for rpc in methods if rpc not in called]
    assert not missing, f"RPCs without a contract test in {tests.name}: {', '.join(missing)}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_subscribed_event_is_sent_in_the_services_event_tests(service):
    """Each event a worker subscribes to is handed to it in tests/contract/test_<service>_events.py."""
    tests = CONTRACTS / f"test_{service}_events.py"
    assert tests.exists(), f"{service} has no {tests.name}"
    text = tests.read_text()
    missing = sorted({f"{s.source} {s.event_type}" for s in worker_subscriptions(service)
                      if f'"{s.event_type}"' not in text})
    assert not missing, f"events {service}'s worker takes without a test in {tests.name}: " \
                        f"{', '.join(missing)}"
