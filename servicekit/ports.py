"""A free TCP port to listen on, for tests and benchmarks that start servers.

Chosen below the kernel's ephemeral range: a port the kernel hands out (`bind(("", 0))`) is one it
may also give any outgoing connection (to PostgreSQL, RabbitMQ ...) opened before our server
binds it, and then the server fails with "address already in use" (it did, in CI, with 18
processes connecting while the gateway started). Below the range only a deliberate listener can
take it, and that is checked by binding it here.
"""
from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    highest = ephemeral_start() - 1
    if highest <= LOWEST:  # an unusual range: let the kernel choose
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(200):
        port = random.randint(LOWEST, highest)
        if bindable(port):
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {highest}")
