"""The gateway's async gRPC channels and stubs, one channel per service, made on first use (a
grpc.aio channel belongs to the event loop that made it) and closed at shutdown."""
from __future__ import annotations

import asyncio
from typing import Callable, TypeVar, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servicekit.config import part_target
from servicekit.grpc_client import aio_channel

Stub = TypeVar("Stub")


class Clients:
    """One kit channel per service (retries on UNAVAILABLE; identity, request id and trace
    context sent as metadata on every call kind; `rpc_timeout` the deadline of every call that
    does not name its own)."""

    def __init__(self, rpc_timeout: float):
        self.rpc_timeout = rpc_timeout
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[tuple[str, str, object], object] = {}

    def channel(self, service: str, part: str = "") -> grpc.aio.Channel:
        """`part`: a separately deployed part of the service's api (servicekit.config.PARTS)."""
        name = f"{service}-{part}" if part else service
        ch = self._channels.get(name)
        if ch is None:
            ch = self._channels[name] = aio_channel(
                service, target=part_target(service, part) if part else None,
                timeout_seconds=self.rpc_timeout)
        return ch

    def stub(self, service: str, stub_class: Callable[[grpc.aio.Channel], Stub],
             part: str = "") -> Stub:
        key = (service, part, stub_class)
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = stub_class(self.channel(service, part))
        return cast(Stub, stub)

    async def health(self, service: str, timeout: float = 1.0) -> str:
        """The service's gRPC health status name (SERVING, NOT_SERVING ...) or why it did not answer."""
        stub = self.stub(service, health_pb2_grpc.HealthStub)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError as err:
            return err.code().name
        except asyncio.TimeoutError:
            return "DEADLINE_EXCEEDED"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def close(self) -> None:
        channels, self._channels, self._stubs = list(self._channels.values()), {}, {}
        for ch in channels:
            await ch.close()
