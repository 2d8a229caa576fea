"""One pooled HTTP client per process for plain outgoing calls (carriers, providers' stand-ins
sending notifications).

`httpx.post(...)` builds a whole Client per call, and with it a fresh TLS context (loading the
CA bundle): that was half of logistics-worker's CPU while booking waybills and most of the
stand-ins' CPU in the checkout benchmark. One shared client keeps that cost at one per process
and reuses keep-alive connections. Callers pass their own `timeout=` per request.
"""
from __future__ import annotations

import httpx

from .lazy import once


@once
def client() -> httpx.Client:
    """The process's shared client (thread-safe; under eventlet the lock is a green one)."""
    return httpx.Client(timeout=10.0)
