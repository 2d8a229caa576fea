"""A short-TTL cache of shopper product listings, keyed by the exact ListProducts request.

Listings are the same for every shopper and are the hottest route; a couple of seconds of
staleness (a price edit, a product running out) is an accepted trade for not asking catalog the
same question hundreds of times a second. Concurrent misses on one key share one call. The
rendered JSON is cached, so a hit costs no protobuf-to-JSON work. TTL 0 turns it off.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from typing import Awaitable, Callable

from fastapi import Response
from google.protobuf.message import Message

from .convert import to_json


def render(message: Message) -> bytes:
    return json.dumps(to_json(message), ensure_ascii=False, separators=(",", ":")).encode()


class ListingCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 2048,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future] = {}

    async def respond(self, request: Message, fetch: Callable[[], Awaitable[Message]]) -> Response:
        if self.ttl <= 0:
            return self._response(render(await fetch()), "bypass")
        key = request.SerializeToString(deterministic=True)
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self.clock():
            return self._response(entry[1], "hit")
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return self._response(await asyncio.shield(pending), "hit")
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the one it waited for
                # the request that was fetching went away (client gone): fetch ourselves
        future = self._inflight[key] = asyncio.get_running_loop().create_future()
        try:
            body = render(await fetch())
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as err:
            # Waiters see the same failure; errors are never cached.
            future.set_exception(err)
            future.exception()  # mark retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(body)
        self._entries[key] = (self.clock() + self.ttl, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return self._response(body, "miss")

    def _response(self, body: bytes, outcome: str) -> Response:
        headers = {"X-Cache": outcome}
        if self.ttl > 0:
            headers["Cache-Control"] = f"public, max-age={int(self.ttl)}"
        return Response(body, media_type="application/json", headers=headers)
