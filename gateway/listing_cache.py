"""A short-TTL cache of shopper product listings, keyed by the exact ListProducts request.

Listings are the same for every shopper and are the hottest route; a couple of seconds of
staleness (a price edit, a product running out) is an accepted trade for not asking catalog the
same question hundreds of times a second. The rendered JSON is cached, so a hit costs no
protobuf-to-JSON work.

- fresh for `ttl` seconds;
- then, for `stale` more seconds, still served while one background call refreshes it
  (stale-while-revalidate: shoppers never wait for the refresh);
- past that, or never seen: fetched, with concurrent misses on one key sharing one call.
Errors are never cached. TTL 0 turns it all off.

`ListingFastPath` answers a fresh hit before routing and query validation (the larger share of a
hit's cost): it remembers which raw query string led to which cache entry. Anything else (first
sight, stale, expired) goes through the route as usual.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Awaitable, Callable

from fastapi import Response
from google.protobuf.message import Message

from .convert import to_json

log = logging.getLogger("gateway.listing_cache")

Fetch = Callable[[], Awaitable[Message]]


def render(message: Message) -> bytes:
    return json.dumps(to_json(message), ensure_ascii=False, separators=(",", ":")).encode()


class ListingCache:
    def __init__(self, ttl_seconds: float, stale_seconds: float = 10.0, max_entries: int = 2048,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl_seconds
        self.stale = stale_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()  # key -> (fetched at, body)
        self._inflight: dict[bytes, asyncio.Future] = {}
        self._refreshing: set[asyncio.Task] = set()  # referenced, or they may be collected
        self._raw: OrderedDict[tuple[str, bytes], tuple[str, bytes]] = OrderedDict()

    def _remember(self, raw: tuple, key: bytes) -> None:
        template, path, query = raw
        self._raw[(path, query)] = (template, key)
        self._raw.move_to_end((path, query))
        while len(self._raw) > self.max_entries:
            self._raw.popitem(last=False)

    def fresh_for_raw(self, path: str, query: bytes) -> tuple[str, bytes] | None:
        """(route template, body) of a fresh entry reached by this exact path and query."""
        found = self._raw.get((path, query))
        if found is None:
            return None
        entry = self._entries.get(found[1])
        if entry is None or self.clock() - entry[0] >= self.ttl:
            return None
        return found[0], entry[1]

    async def respond(self, request: Message, fetch: Fetch, raw: tuple | None = None) -> Response:
        """The listing for `request`; `raw` (template, path, query string) lets the fast path
        find the entry next time without parsing."""
        if self.ttl <= 0:
            return self._response(render(await fetch()), "bypass")
        key = request.SerializeToString(deterministic=True)
        if raw is not None:
            self._remember(raw, key)
        entry = self._entries.get(key)
        if entry is not None:
            age = self.clock() - entry[0]
            if age < self.ttl:
                return self._response(entry[1], "hit")
            if age < self.ttl + self.stale:
                if key not in self._inflight:
                    self._refresh_in_background(key, fetch)
                return self._response(entry[1], "stale")
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return self._response(await asyncio.shield(pending), "hit")
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the one it waited for
                # the request that was fetching went away (client gone): fetch ourselves
        return self._response(await self._fetch(key, fetch), "miss")

    async def _fetch(self, key: bytes, fetch: Fetch) -> bytes:
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
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result(body)
        self._entries[key] = (self.clock(), body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return body

    def _refresh_in_background(self, key: bytes, fetch: Fetch) -> None:
        async def refresh() -> None:
            try:
                await self._fetch(key, fetch)
            except Exception as err:  # the stale copy stays until it expires
                log.warning("refreshing a cached listing failed: %s", err)

        task = asyncio.get_running_loop().create_task(refresh())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    def _response(self, body: bytes, outcome: str) -> Response:
        headers = {"X-Cache": outcome}
        if self.ttl > 0:
            headers["Cache-Control"] = f"public, max-age={int(self.ttl)}"
        return Response(body, media_type="application/json", headers=headers)


class _Template:
    """Stands in for the route in the scope, so the request metrics name the template."""

    def __init__(self, path: str):
        self.path = path


class ListingFastPath:
    """ASGI middleware: a GET that exactly repeats a cached listing's path and query string is
    answered from the cache while the entry is fresh."""

    def __init__(self, app, cache: ListingCache, paths: tuple[str, ...]):
        self.app = app
        self.cache = cache
        self.paths = paths
        self._templates: dict[str, _Template] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.paths:
            found = self.cache.fresh_for_raw(scope["path"], scope["query_string"])
            if found is not None:
                template, body = found
                route = self._templates.get(template)
                if route is None:
                    route = self._templates[template] = _Template(template)
                scope["route"] = route
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-cache", b"hit"),
                    (b"cache-control", f"public, max-age={int(self.cache.ttl)}".encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
