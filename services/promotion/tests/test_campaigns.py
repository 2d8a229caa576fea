"""Campaign rules: each kind, windows and sessions, the stacking rules on overlaps, ending early."""
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from servicekit.errors import FailedPrecondition, InvalidArgument
from services.promotion import campaigns
from services.promotion.campaign_spec import FlashItem
from services.promotion.models import Campaign, CampaignQuota

from .helpers import NOW, flash_spec, gift_spec, ladder_spec, presale_spec


def create(runtime, spec, key="", by="staff-1"):
    with runtime.transaction() as session:
        return campaigns.create(session, runtime, spec, created_by=by, idempotency_key=key)


def violations(runtime, spec):
    with pytest.raises(InvalidArgument) as err:
        create(runtime, spec)
    return {(v.field, v.rule) for v in err.value.violations}


def outbox(runtime):
    with runtime.transaction() as session:
        return [json.loads(r.body) for r in session.execute(select(runtime.outbox_table))]


def test_each_kind_is_stored_with_its_quotas_and_announced(runtime):
    flash = create(runtime, flash_spec(("sku-1", "sku-2"), quota=100, weekday=5, start="20:00",
                                       end="22:00"))
    create(runtime, ladder_spec())
    gift = create(runtime, gift_spec(stock=5))
    create(runtime, presale_spec())
    with runtime.transaction() as session:
        quotas = {(q.campaign_id, q.sku_id): (q.total, q.taken)
                  for q in session.scalars(select(CampaignQuota))}
        back = campaigns.spec_of(session.get(Campaign, flash.id),
                                 campaigns.quotas(session, [flash.id])[flash.id])
    # A weekly flash sale's quotas are per session, made by each session's first lock.
    assert quotas == {(gift.id, "sku-bag"): (5, 0)}
    assert back == flash_spec(("sku-1", "sku-2"), quota=100, weekday=5, start="20:00", end="22:00")
    events = outbox(runtime)
    created = [e for e in events if e["type"] == "campaign.created"]
    assert [e["data"]["kind"] for e in created] == ["flash_sale", "threshold", "gift", "presale"]
    changed = [e["data"] for e in events if e["type"] == "campaign.changed"]
    assert [(c["change"], c["version"], c["campaign"]["spec"]["kind"]) for c in changed] == [
        ("created", "1", "FLASH_SALE"), ("created", "1", "THRESHOLD"), ("created", "1", "GIFT"),
        ("created", "1", "PRESALE")]
    assert created[0]["data"]["session"] == "每周五 20:00-22:00"
    assert created[0]["data"]["skuIds"] == ["sku-1", "sku-2"]


def test_a_gifts_return_rule_is_stored_and_checked(runtime):
    from dataclasses import replace

    spec = gift_spec()
    deduct = replace(spec, gift=replace(spec.gift, return_rule="deduct", gift_value_fen=2500))
    made = create(runtime, deduct)
    with runtime.transaction() as session:
        back = campaigns.spec_of(session.get(Campaign, made.id),
                                 campaigns.quotas(session, [made.id])[made.id])
    assert (back.gift.return_rule, back.gift.gift_value_fen) == ("deduct", 2500)
    bad = replace(spec, gift=replace(spec.gift, return_rule="keep", gift_value_fen=-1))
    assert violations(runtime, bad) == {("spec.gift.return_rule", "one_of"),
                                        ("spec.gift.gift_value_fen", "range")}
    free = replace(spec, gift=replace(spec.gift, return_rule="deduct", gift_value_fen=0))
    assert violations(runtime, free) == {("spec.gift.gift_value_fen", "range")}


def test_a_window_that_ends_before_it_starts_is_refused_and_nothing_written(runtime):
    spec = flash_spec(starts_at=NOW + timedelta(days=2), ends_at=NOW + timedelta(days=1))
    assert violations(runtime, spec) == {("spec.ends_at", "after_start")}
    assert violations(runtime, flash_spec(weekday=5, start="22:00", end="20:00")) == \
        {("spec.session.end", "after_start")}
    assert violations(runtime, flash_spec(weekday=8, start="8pm", end="22:00")) == \
        {("spec.session.weekday", "range"), ("spec.session.start", "clock")}
    assert outbox(runtime) == []


def test_kind_rules_each_named(runtime):
    bad_flash = replace(flash_spec(), flash_items=(FlashItem("sku-1", 9900, 80, 0), FlashItem("sku-1")),
                        per_member_limit=0)
    assert violations(runtime, bad_flash) == {
        ("spec.flash_items", "distinct"), ("spec.flash_items[0].sale_price_fen", "price_or_percent"),
        ("spec.flash_items[0].quota", "range"), ("spec.flash_items[1].sale_price_fen", "price_or_percent"),
        ("spec.flash_items[1].quota", "range"), ("spec.per_member_limit", "positive")}
    assert violations(runtime, ladder_spec(rungs=((20000, 5000), (10000, 6000)))) == \
        {("spec.rungs[1]", "ascending")}
    assert violations(runtime, ladder_spec(rungs=((5000, 5000),))) == {("spec.rungs[0].off_fen", "below_threshold")}
    assert violations(runtime, replace(ladder_spec(), per_member_limit=2)) == \
        {("spec.per_member_limit", "unused")}
    assert violations(runtime, ladder_spec(scope="categories")) == {("spec.category_ids", "required")}


def test_one_sku_is_in_one_pricing_campaign_at_a_time(runtime):
    friday = create(runtime, flash_spec(("sku-1",), weekday=5, start="20:00", end="22:00"))
    saturday = flash_spec(("sku-1",), weekday=6, start="20:00", end="22:00", name="周六秒杀")
    create(runtime, saturday)  # another day: no overlap
    late_friday = flash_spec(("sku-2", "sku-1"), weekday=5, start="21:00", end="23:00", name="周五晚场")
    with pytest.raises(InvalidArgument) as err:
        create(runtime, late_friday)
    (violation,) = err.value.violations
    assert (violation.field, violation.rule) == ("spec.sku_ids", "overlaps")
    assert f"flash_sale campaign {friday.id}" in violation.description and "sku-1" in violation.description
    # A pre-sale of a SKU already on flash sale (every day) is refused too; early access counts.
    create(runtime, flash_spec(("sku-pre",), name="天天秒杀"))
    assert violations(runtime, presale_spec("sku-pre")) == {("spec.sku_ids", "overlaps")}


def test_threshold_ladders_never_stack_on_the_same_items(runtime):
    create(runtime, ladder_spec(scope="categories", category_ids=("bras",)))
    create(runtime, ladder_spec(scope="categories", category_ids=("panties",), name="内裤满减"))
    create(runtime, ladder_spec(scope="products", product_ids=("p-1",), name="单品满减"))
    assert violations(runtime, ladder_spec(name="全场满减")) == {("spec.scope", "overlaps")}
    assert violations(runtime, ladder_spec(scope="categories", category_ids=("bras", "socks"))) == \
        {("spec.scope", "overlaps")}


def test_retry_with_the_same_key_returns_the_same_campaign(runtime):
    first = create(runtime, flash_spec(), key="k-1")
    assert create(runtime, flash_spec(), key="k-1").id == first.id
    with pytest.raises(FailedPrecondition):
        create(runtime, flash_spec(price=8800), key="k-1")
    assert [e["type"] for e in outbox(runtime)] == ["campaign.created", "campaign.changed"]


def test_ending_early_frees_the_skus_and_announces_it(runtime):
    made = create(runtime, flash_spec())
    with runtime.transaction() as session:
        campaigns.end(session, runtime, str(made.id), ended_by="staff-2")
    with runtime.transaction() as session, pytest.raises(FailedPrecondition):
        campaigns.end(session, runtime, str(made.id), ended_by="staff-2")
    create(runtime, flash_spec(name="重开"))  # the SKU is free again
    events = outbox(runtime)
    assert [e["type"] for e in events] == [
        "campaign.created", "campaign.changed", "campaign.ended", "campaign.changed",
        "campaign.created", "campaign.changed"]
    ended = events[3]["data"]
    assert (ended["change"], ended["version"], ended["changedBy"]) == ("ended", "2", "staff-2")
    assert ended["campaign"]["status"] == "ended" and ended["campaign"]["version"] == "2"
