"""VIP 优先购 in catalog: staff set a product's early-access rule and invite members to its
trial; the rule travels in every product event, invitations as product.trial_invited; shoppers
see "coming soon for 金卡 and above" on the card and the detail until the public opening."""
from datetime import datetime, timedelta, timezone

import pytest
from mall.catalog.v1 import catalog_pb2 as pb

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound
from servicekit.times import rfc3339
from services.catalog import early_access, listing, views
from services.catalog.models import TrialInvitation

from .helpers import bra_input, bra_skus, count, outbox, published

NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0, T1 = NOW - timedelta(hours=1), NOW + timedelta(days=2)


def rule(product_id, **kw):
    fields = dict(product_id=product_id, min_tier_rank=2, tier_name="金卡", opens_at=rfc3339(T0),
                  public_at=rfc3339(T1))
    fields.update(kw)
    return pb.SetEarlyAccessRequest(**fields)


def set_rule(rt, request):
    with rt.transaction() as s:
        return early_access.set_rule(rt, s, request).version


def invite(rt, product_id, member_ids, source=""):
    with rt.transaction() as s:
        return early_access.invite(rt, s, pb.InviteToTrialRequest(
            product_id=product_id, member_ids=member_ids, source=source), "staff-1")


def fields(err):
    return {(v.field, v.rule) for v in err.violations}


def test_the_rule_is_announced_and_shown_until_the_public_opening(rt, shop, storage):
    product_id = published(rt, storage, bra_input(shop), bra_skus())
    set_rule(rt, rule(product_id))
    (event,) = outbox(rt, "product.updated")
    assert event["data"]["product"]["earlyAccess"] == {
        "minTierRank": 2, "tierName": "金卡", "opensAt": rfc3339(T0), "publicAt": rfc3339(T1)}
    with rt.transaction() as s:
        (card,) = listing.list_products(s, listing.Filters()).products
        detail = views.product_detail(s, product_id, storage, shopper=True, caller_id="m-1")
    assert card.early_access.tier_name == "金卡" and card.early_access.min_tier_rank == 2
    assert card.early_access.label.startswith("金卡及以上会员优先购，")
    assert detail.early_access.public_at == rfc3339(T1) and not detail.early_access.invited
    # after the public opening nothing is shown: the product is everyone's
    assert early_access.message(2, "金卡", T0, T1, now=T1) is None
    # clearing it announces the product without a rule
    set_rule(rt, pb.SetEarlyAccessRequest(product_id=product_id, clear=True))
    assert "earlyAccess" not in outbox(rt, "product.updated")[-1]["data"]["product"]
    with rt.transaction() as s:
        (card,) = listing.list_products(s, listing.Filters()).products
    assert not card.HasField("early_access")


def test_a_bad_rule_is_refused_naming_every_field(rt, shop, storage):
    product_id = published(rt, storage, bra_input(shop), bra_skus())
    with pytest.raises(InvalidArgument) as err:
        set_rule(rt, rule(product_id, min_tier_rank=0, tier_name=" ", opens_at="tomorrow",
                          public_at=""))
    assert fields(err.value) == {("min_tier_rank", "range"), ("tier_name", "length"),
                                 ("opens_at", "format"), ("public_at", "required")}
    with pytest.raises(InvalidArgument) as err:
        set_rule(rt, rule(product_id, opens_at=rfc3339(T1), public_at=rfc3339(T0)))
    assert fields(err.value) == {("public_at", "after_opens_at"), ("public_at", "future")}
    with pytest.raises(NotFound):
        set_rule(rt, rule("no-such-product"))
    assert outbox(rt, "product.updated") == []


def test_invitations_are_stored_once_and_announced(rt, shop, storage):
    product_id = published(rt, storage, bra_input(shop), bra_skus())
    with pytest.raises(FailedPrecondition) as err:  # no rule: a trial means nothing
        invite(rt, product_id, ["m-1"])
    assert fields(err.value) == {("product_id", "early_access")}
    set_rule(rt, rule(product_id))
    answer = invite(rt, product_id, ["m-1", "m-2", "m-1"], source="marketing:spring")
    assert (answer.invited, answer.total) == (2, 2)
    answer = invite(rt, product_id, ["m-2", "m-3"])  # m-2 again: left as it is
    assert (answer.invited, answer.total) == (1, 3)
    events = [e["data"] for e in outbox(rt, "product.trial_invited")]
    assert [(e["memberIds"], e["source"]) for e in events] == [
        (["m-1", "m-2"], "marketing:spring"), (["m-3"], "staff")]
    with rt.transaction() as s:
        assert views.product_detail(s, product_id, storage, shopper=True,
                                    caller_id="m-3").early_access.invited
    with pytest.raises(InvalidArgument) as err:
        invite(rt, product_id, ["ok", "has space", ""], source="bad source")
    assert fields(err.value) == {("member_ids[1]", "format"), ("member_ids[2]", "format"),
                                 ("source", "format")}
    with pytest.raises(InvalidArgument) as err:
        invite(rt, product_id, [])
    assert fields(err.value) == {("member_ids", "count")}
    assert count(rt, TrialInvitation) == 3


def test_the_label_is_in_shanghai_time():
    public = datetime(2026, 12, 8, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    assert early_access.label("金卡", public) == "金卡及以上会员优先购，12月8日 10:00 公开发售"
