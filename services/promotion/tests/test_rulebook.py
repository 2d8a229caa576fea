"""The rule cache: reloads after its TTL or when invalidated, never in between."""
from services.promotion import campaigns
from services.promotion.rulebook import Rulebook

from .helpers import flash_spec


def create(runtime, spec):
    with runtime.transaction() as session:
        return campaigns.create(session, runtime, spec, created_by="staff-1")


def test_rules_are_cached_until_the_ttl_or_an_invalidation(runtime):
    book = Rulebook(runtime.sessions, ttl_seconds=3600)
    assert book.rules().sales == ()
    made = create(runtime, flash_spec(("sku-1",), quota=7))
    assert book.rules().sales == ()          # cached
    book.invalidate()
    (sale,) = book.rules().sales
    assert (sale.campaign_id, sale.items["sku-1"].remaining) == (str(made.id), 7)
    assert Rulebook(runtime.sessions, ttl_seconds=0).rules().sales[0].campaign_id == str(made.id)
