"""`make run`'s demo shop, seeded into the running suite twice: the second time changes nothing."""
from __future__ import annotations

import time

import pytest

from deploy.local import seed, seed_promotion

from .shop import ok

pytestmark = pytest.mark.e2e


def published_ids(http) -> set[str]:
    ids, token = set(), ""
    while True:
        page = ok(http.get("/v1/products", params={"page_size": 100, "page_token": token}))
        ids |= {p["id"] for p in page["products"]}
        token = page["page"]["next_page_token"]
        if not token:
            return ids


def wait_for_analytics_to_settle(mall, admin, quiet_seconds: float = 3.0) -> None:
    """The seed's events still flowing would disturb the counts other tests compare."""
    last, since = None, time.monotonic()
    deadline = since + 120
    while time.monotonic() < deadline:
        total = ok(admin.get("/v1/admin/analytics/event-counts"))["total"]
        if total != last:
            last, since = total, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return
        time.sleep(0.5)
    raise AssertionError("analytics kept counting for two minutes")


def test_seeding_the_demo_shop_twice_seeds_it_once(mall, admin_token):
    quiet = lambda _text: None  # noqa: E731
    with mall.client() as shopper, mall.client(admin_token) as admin:
        before = published_ids(shopper)

        first = seed.seed_demo_shop(mall.admin_password, say=quiet, targets=mall.targets)
        after_first = mall.wait_until(
            lambda: (ids := published_ids(shopper)) - before and ids,
            what="the demo products in the listing")
        seeded = after_first - before
        assert len(seeded) >= 10, f"only {len(seeded)} demo products were published"
        assert first.admin_username == "e2e-admin" and first.admin_password == mall.admin_password
        assert not first.notes, first.notes  # catalog and stock were both seeded

        seed.seed_demo_shop(mall.admin_password, say=quiet, targets=mall.targets)
        assert published_ids(shopper) == after_first

        wait_for_analytics_to_settle(mall, admin)
        end_demo_campaigns(admin)


def end_demo_campaigns(admin) -> None:
    """The demo's shop-wide 满减 ladder and flash sale would price every later journey of this
    session's suite: ended, so each journey meets only the promotions it sets up."""
    demo = {seed_promotion.LADDER, seed_promotion.FLASH}
    listed = ok(admin.get("/v1/admin/campaigns", params={"page_size": 100}))["campaigns"]
    ended = [c for c in listed if c["spec"]["name"] in demo and c["status"] == "active"]
    assert {c["spec"]["name"] for c in ended} == demo
    for campaign in ended:
        ok(admin.post(f"/v1/admin/campaigns/{campaign['id']}/end"))
