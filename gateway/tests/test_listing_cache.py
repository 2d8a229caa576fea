"""The short-TTL cache of shopper listings: hits, expiry, one call for concurrent misses, and
failures never cached."""
from __future__ import annotations

import asyncio

import pytest
from mall.catalog.v1 import catalog_pb2

from gateway.listing_cache import ListingCache


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def request(category: str = "") -> catalog_pb2.ListProductsRequest:
    return catalog_pb2.ListProductsRequest(category_id=category)


def reply(title: str, price_fen: int = 19900) -> catalog_pb2.ListProductsResponse:
    return catalog_pb2.ListProductsResponse(products=[
        catalog_pb2.ProductSummary(id="p1", title=title, min_price_fen=price_fen)])


def test_hits_until_the_ttl_and_the_stale_window_pass():
    clock = FakeClock()
    cache = ListingCache(2.0, stale_seconds=5.0, clock=clock)
    calls = []

    async def fetch():
        calls.append(1)
        return reply(f"v{len(calls)}")

    async def scenario():
        first = await cache.respond(request(), fetch)
        second = await cache.respond(request(), fetch)
        other = await cache.respond(request("c2"), fetch)
        clock.now += 2.5
        stale = await cache.respond(request(), fetch)  # served at once, refreshed behind
        await asyncio.sleep(0.01)
        refreshed = await cache.respond(request(), fetch)
        clock.now += 20
        expired = await cache.respond(request(), fetch)
        return first, second, other, stale, refreshed, expired

    first, second, other, stale, refreshed, expired = asyncio.run(scenario())
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert first.body == second.body and b'"min_price_fen":19900' in first.body
    assert other.headers["x-cache"] == "miss"
    assert stale.headers["x-cache"] == "stale" and b"v1" in stale.body
    assert refreshed.headers["x-cache"] == "hit" and b"v3" in refreshed.body
    assert expired.headers["x-cache"] == "miss" and b"v4" in expired.body
    assert len(calls) == 4
    assert first.headers["cache-control"] == "public, max-age=2"


def test_a_failed_refresh_keeps_the_stale_copy_until_it_expires():
    clock = FakeClock()
    cache = ListingCache(2.0, stale_seconds=5.0, clock=clock)

    async def broken():
        raise RuntimeError("catalog down")

    async def scenario():
        await cache.respond(request(), lambda: asyncio.sleep(0, reply("kept")))
        clock.now += 3
        stale = [await cache.respond(request(), broken) for _ in range(3)]
        await asyncio.sleep(0.01)
        clock.now += 10
        with pytest.raises(RuntimeError):
            await cache.respond(request(), broken)
        return stale

    assert all(b"kept" in r.body and r.headers["x-cache"] == "stale" for r in asyncio.run(scenario()))


def test_concurrent_misses_share_one_call():
    cache = ListingCache(2.0)
    calls = []

    async def fetch():
        calls.append(1)
        await asyncio.sleep(0.05)
        return reply("once")

    async def scenario():
        return await asyncio.gather(*(cache.respond(request(), fetch) for _ in range(20)))

    responses = asyncio.run(scenario())
    assert len(calls) == 1
    assert {r.body for r in responses} == {responses[0].body}


def test_failures_reach_every_waiter_and_are_not_cached():
    cache = ListingCache(2.0)
    calls = []

    async def failing():
        calls.append(1)
        await asyncio.sleep(0.02)
        raise RuntimeError("catalog down")

    async def scenario():
        results = await asyncio.gather(*(cache.respond(request(), failing) for _ in range(3)),
                                       return_exceptions=True)
        later = await cache.respond(request(), lambda: asyncio.sleep(0, reply("back")))
        return results, later

    results, later = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) for r in results) and len(calls) == 1
    assert later.headers["x-cache"] == "miss" and b"back" in later.body


def test_a_cancelled_fetch_lets_a_waiter_fetch_itself():
    cache = ListingCache(2.0)

    async def slow():
        await asyncio.sleep(10)

    async def scenario():
        leader = asyncio.create_task(cache.respond(request(), slow))
        await asyncio.sleep(0.01)
        follower = asyncio.create_task(cache.respond(
            request(), lambda: asyncio.sleep(0, reply("fresh"))))
        await asyncio.sleep(0.01)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        return await asyncio.wait_for(follower, 1)

    assert b"fresh" in asyncio.run(scenario()).body


def test_ttl_zero_turns_it_off():
    cache = ListingCache(0)
    calls = []

    async def fetch():
        calls.append(1)
        return reply("x")

    async def scenario():
        for _ in range(3):
            response = await cache.respond(request(), fetch)
        return response

    assert asyncio.run(scenario()).headers["x-cache"] == "bypass" and len(calls) == 3


def test_entries_are_bounded():
    cache = ListingCache(60, max_entries=5)

    async def scenario():
        for i in range(50):
            await cache.respond(request(f"c{i}"), lambda: asyncio.sleep(0, reply("x")))

    asyncio.run(scenario())
    assert len(cache._entries) == 5
