"""VIP 优先购 at the cart: the rule from catalog's product events, invitations from
product.trial_invited, the decision as a table, refused then allowed."""
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import catalog_events_pb2 as catalog
from sqlalchemy import func, select

from servicekit.errors import FailedPrecondition
from servicekit.times import rfc3339
from services.order import cart, early_access, products
from services.order.early_access import EarlyRule
from services.order.models import ProductSku, TrialInvitation

from .helpers import catalog_product

NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0, T1 = NOW - timedelta(hours=1), NOW + timedelta(days=2)
RULE = EarlyRule(2, "金卡", T0, T1)
ALICE, GOLDIE, GUEST = "member-alice", "member-goldie", ""


def early_product(version=1, opens=T0, public=T1, **kw):
    product = catalog_product(version=version, **kw)
    if public is not None:
        product.early_access.CopyFrom(catalog.CatalogEarlyAccess(
            min_tier_rank=2, tier_name="金卡", opens_at=rfc3339(opens), public_at=rfc3339(public)))
    return product


def apply(runtime, product):
    with runtime.transaction() as session:
        products.apply_product(session, products.snapshot_from_event(product))


def run(runtime, fn, *args, **kw):
    with runtime.transaction() as session:
        return fn(session, *args, **kw)


@pytest.mark.parametrize("rule, rank, invited, now, opens_to_her", [
    (None, None, False, NOW, None),                      # no rule: everyone
    (RULE, None, False, NOW, T1),                        # a guest: at the public opening
    (RULE, 1, False, NOW, T1),                           # 银卡 below 金卡: at the public opening
    (RULE, 2, False, NOW, None),                         # 金卡 after T0: now
    (RULE, 3, False, NOW, None),                         # 钻石: now
    (RULE, 2, False, T0 - timedelta(seconds=1), T0),     # 金卡 before T0: at T0
    (RULE, 0, True, NOW, None),                          # invited to the trial: now
    (RULE, 0, True, T0 - timedelta(days=1), None),       # invited, even before T0
    (RULE, 0, False, T1, None),                          # the public opening: everyone
    (EarlyRule(2, "金卡", None, T1), 3, False, NOW, T1),  # no tier opening: the public one
])
def test_who_may_buy_when(rule, rank, invited, now, opens_to_her):
    refusal = early_access.decide(rule, rank, invited, now)
    assert (refusal.opens_to_her if refusal else None) == opens_to_her


def test_the_rule_follows_the_products_events(runtime):
    apply(runtime, early_product(version=1))
    with runtime.transaction() as session:
        row = session.get(ProductSku, "sku-75b-black")
        assert early_access.rule_of(row) == RULE
    apply(runtime, early_product(version=2, public=None))  # staff cleared it
    apply(runtime, early_product(version=1))               # a late, older event changes nothing
    with runtime.transaction() as session:
        assert early_access.rule_of(session.get(ProductSku, "sku-75b-black")) is None


def test_invitations_are_kept_once_whatever_the_redelivery(runtime):
    event = catalog.TrialInvited(product_id="p-1", member_ids=[ALICE, "m-2", ALICE],
                                 invited_at=rfc3339(NOW))
    assert run(runtime, early_access.keep_invitations, event) == 2
    assert run(runtime, early_access.keep_invitations, event) == 0
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TrialInvitation)) == 2


def test_the_cart_refuses_a_lower_tier_then_takes_her_once_invited(runtime):
    apply(runtime, early_product())
    asked = []

    def silver():
        asked.append(1)
        return 1

    with pytest.raises(FailedPrecondition) as err:
        run(runtime, cart.add_item, ALICE, "sku-75b-black", 1, rank_of=silver)
    (violation,) = err.value.violations
    assert (violation.field, violation.rule) == ("sku_id", "early_access")
    assert "金卡 and above" in violation.description
    assert T1.astimezone(early_access.SHANGHAI).strftime("%Y-%m-%d %H:%M") in violation.description
    assert run(runtime, cart.get_cart, ALICE).lines == []
    with pytest.raises(FailedPrecondition):  # a guest (no rank known) is refused too
        run(runtime, cart.add_item, ALICE, "sku-75b-black", 1)
    run(runtime, early_access.keep_invitations, catalog.TrialInvited(
        product_id="p-1", member_ids=[ALICE], invited_at=rfc3339(NOW)))
    asked.clear()
    view = run(runtime, cart.add_item, ALICE, "sku-75b-black", 1, rank_of=silver)
    assert [(line.sku_id, line.quantity) for line in view.lines] == [("sku-75b-black", 1)]
    assert asked == []  # invited: member is not even asked


def test_a_gold_member_may_add_it_and_everyone_after_the_public_opening(runtime):
    apply(runtime, early_product())
    view = run(runtime, cart.add_item, GOLDIE, "sku-80c-nude", 2, rank_of=lambda: 2)
    assert view.lines[0].quantity == 2
    # the product opened to everyone (catalog's rule says the public opening is past)
    apply(runtime, early_product(version=2, opens=NOW - timedelta(days=2),
                                 public=NOW - timedelta(seconds=1)))
    assert run(runtime, cart.add_item, ALICE, "sku-80c-nude", 1, rank_of=lambda: 0).lines


def test_raising_a_quantity_is_checked_again(runtime):
    apply(runtime, early_product(public=None))
    run(runtime, cart.add_item, ALICE, "sku-75b-black", 1)  # before the rule was set
    apply(runtime, early_product(version=2))
    with pytest.raises(FailedPrecondition):
        run(runtime, cart.update_item, ALICE, "sku-75b-black", 3, rank_of=lambda: 0)
    assert run(runtime, cart.update_item, ALICE, "sku-75b-black", 1).lines[0].quantity == 1  # lowering is fine
