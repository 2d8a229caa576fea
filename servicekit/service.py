"""Finds a service's parts by convention (services/<name>/models.py, api.py, worker.py) and holds
the one Runtime of this process per service."""
from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType

from .config import EXTRA_SERVICES, SERVICES, Settings
from .runtime import Runtime

_runtimes: dict[str, Runtime] = {}
# name -> package, for services that do not live under services/ (the kit's own test service).
PACKAGES: dict[str, str] = {}
_lock = threading.Lock()


def _register_extra_packages() -> None:
    """MALL_SERVICE_PACKAGES="name=dotted.package,..." makes a process load services that live
    elsewhere (the kit's own test service); importing the package registers it."""
    for item in filter(None, os.environ.get("MALL_SERVICE_PACKAGES", "").split(",")):
        name, _, package = item.partition("=")
        if name not in PACKAGES:
            importlib.import_module(package)


def check_name(name: str) -> str:
    if name not in SERVICES and name not in EXTRA_SERVICES:
        _register_extra_packages()
    if name not in SERVICES and name not in EXTRA_SERVICES:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    return name


def module(name: str, part: str) -> ModuleType:
    package = PACKAGES.get(name) or f"services.{check_name(name)}"
    return importlib.import_module(f"{package}.{part}")


def runtime(name: str, settings: Settings | None = None) -> Runtime:
    """The process-wide runtime of `name` (built on first use from services.<name>.models.Base)."""
    with _lock:
        if name not in _runtimes:
            _runtimes[name] = Runtime(name, module(name, "models").Base, settings)
        return _runtimes[name]


def forget_runtimes() -> None:
    """Tests point services at fresh databases; this drops the cached runtimes."""
    with _lock:
        for rt in _runtimes.values():
            rt.dispose()
        _runtimes.clear()
