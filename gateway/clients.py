"""The gateway's async gRPC channels and stubs, one channel per service, made on first use (a
grpc.aio channel belongs to the event loop that made it) and closed at shutdown."""
from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servicekit.grpc_client import aio_channel, outgoing_metadata


def open_channel(service: str, max_seconds: float | None = None) -> grpc.aio.Channel:
    """The kit's channel: retries on UNAVAILABLE, and an interceptor that sends the request's
    call context (x-mall-user-id, x-mall-roles, x-request-id, traceparent) as metadata.
    `max_seconds`: the service config's timeout, which caps every call's deadline."""
    return aio_channel(service, timeout_seconds=max_seconds)


class Clients:
    def __init__(self, rpc_timeout: float):
        self.rpc_timeout = rpc_timeout
        self._channels: dict[tuple[str, float | None], grpc.aio.Channel] = {}
        self._stubs: dict[tuple[str, type, float | None], object] = {}

    def channel(self, service: str, max_seconds: float | None = None) -> grpc.aio.Channel:
        ch = self._channels.get((service, max_seconds))
        if ch is None:
            ch = self._channels[(service, max_seconds)] = open_channel(service, max_seconds)
        return ch

    def stub(self, service: str, stub_class: type, max_seconds: float | None = None):
        """A stub on the service's channel; `max_seconds` gives long calls (uploads) a channel
        of their own, as the kit's service config caps deadlines at its default."""
        key = (service, stub_class, max_seconds)
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = stub_class(self.channel(service, max_seconds))
        return stub

    async def call(self, method, request, *, timeout: float | None = None):
        """Calls a unary stub method with the gateway's deadline (the channel's interceptor adds
        identity, request id and trace context)."""
        return await method(request, timeout=timeout or self.rpc_timeout)

    async def call_streaming(self, method, request_iterator, *, timeout: float | None = None):
        """Calls a client-streaming method. grpc.aio files an interceptor under the first call
        kind it implements only (an elif chain), so the kit's interceptor never sees streaming
        calls: the metadata is passed here by hand."""
        return await method(request_iterator, timeout=timeout or self.rpc_timeout,
                            metadata=outgoing_metadata(()))

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
