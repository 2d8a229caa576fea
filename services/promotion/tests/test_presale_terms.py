"""Pre-sale terms (新品预售): the windows, the ship date, the pre-sale price and the merchant's
rule for an unpaid balance; every bad combination refused naming its field and rule; the quote
states the terms on each pre-sale line before the shopper pays."""
from dataclasses import replace
from datetime import timedelta

import pytest

from servicekit.errors import InvalidArgument
from services.promotion import campaigns
from services.promotion.campaign_spec import PresaleItemTerms
from services.promotion.pricing import PresaleItem, PresaleOffer, PricingRules, QuoteRequest, Window, quote

from .helpers import NOW, presale_spec
from .pricing_fixtures import FRIDAY_EVENING, line


def create(runtime, spec):
    with runtime.transaction() as session:
        return campaigns.create(session, runtime, spec, created_by="staff-1", idempotency_key="")


def refused(runtime, spec):
    with pytest.raises(InvalidArgument) as err:
        create(runtime, spec)
    return {(v.field, v.rule) for v in err.value.violations}


def with_terms(spec=None, *, items=None, **terms):
    spec = spec or presale_spec()
    presale = replace(spec.presale, **terms)
    if items is not None:
        presale = replace(presale, items=items)
    return replace(spec, presale=presale)


def test_terms_are_stored_and_read_back(runtime):
    spec = with_terms(items=(PresaleItemTerms("sku-pre", 5000, 10000, presale_price_fen=29900),),
                      unpaid_balance="refund_deposit")
    campaign = create(runtime, spec)
    with runtime.transaction() as session:
        back = campaigns.spec_of(campaigns.get(session, str(campaign.id)), [])
    assert back.presale == spec.presale
    assert back.presale.release_at == spec.presale.release_at


def test_deposit_larger_than_the_price_is_refused(runtime):
    assert refused(runtime, with_terms(items=(PresaleItemTerms("sku-pre", 30000, 30000, 29900),))) \
        == {("spec.presale.items[0].deposit_fen", "below_price")}
    # counting for more than the price would make the line cost less than its deposit
    assert refused(runtime, with_terms(items=(PresaleItemTerms("sku-pre", 5000, 30000, 29900),))) \
        == {("spec.presale.items[0].deposit_counts_as_fen", "at_most_price")}


def test_deposit_counting_as_less_than_it_costs_is_refused(runtime):
    assert refused(runtime, with_terms(items=(PresaleItemTerms("sku-pre", 5000, 4000),))) == \
        {("spec.presale.items[0].deposit_counts_as_fen", "at_least_deposit")}


def test_balance_window_before_or_overlapping_the_deposits_is_refused(runtime):
    spec = presale_spec()
    before = with_terms(spec, balance_from=spec.starts_at - timedelta(days=2),
                        balance_until=spec.starts_at - timedelta(days=1),
                        release_at=spec.starts_at)
    assert refused(runtime, before) == {("spec.presale.balance_from", "after_deposits"),
                                        ("spec.presale.balance_until", "after_deposits")}
    overlapping = with_terms(spec, balance_from=spec.ends_at - timedelta(hours=1),
                             release_at=spec.ends_at)
    assert refused(runtime, overlapping) == {("spec.presale.balance_from", "after_deposits")}
    backwards = with_terms(spec, balance_until=spec.presale.balance_from - timedelta(hours=1))
    assert ("spec.presale.balance_until", "after_start") in refused(runtime, backwards)


def test_release_before_the_balance_opens_is_refused(runtime):
    spec = presale_spec()
    early = with_terms(spec, release_at=spec.presale.balance_from - timedelta(seconds=1))
    with pytest.raises(InvalidArgument) as err:
        create(runtime, early)
    (violation,) = err.value.violations
    assert (violation.field, violation.rule) == ("spec.presale.release_at", "after_balance_opens")
    assert "balance_from" in violation.description
    assert refused(runtime, with_terms(spec, release_at=None)) == {("spec.presale.release_at", "required")}


def test_the_unpaid_balance_rule_is_required(runtime):
    assert refused(runtime, with_terms(unpaid_balance="")) == \
        {("spec.presale.unpaid_balance", "one_of")}
    assert refused(runtime, with_terms(unpaid_balance="forfeit")) == \
        {("spec.presale.unpaid_balance", "one_of")}


def test_every_problem_at_once(runtime):
    spec = presale_spec()
    bad = with_terms(spec, items=(PresaleItemTerms("sku-pre", 5000, 4000, -1),),
                     release_at=spec.presale.balance_from - timedelta(days=1), unpaid_balance="x")
    assert refused(runtime, bad) == {
        ("spec.presale.items[0].deposit_counts_as_fen", "at_least_deposit"),
        ("spec.presale.items[0].presale_price_fen", "non_negative"),
        ("spec.presale.release_at", "after_balance_opens"),
        ("spec.presale.unpaid_balance", "one_of")}


def test_the_quote_prices_at_the_presale_price_and_states_the_terms():
    # List 39900, pre-sale price 29900 (−10000); deposit 5000 counts as 10000 (−5000):
    # payable 24900 = deposit 5000 now + balance 19900 in the balance window.
    opens = FRIDAY_EVENING - timedelta(hours=1)
    offer = PresaleOffer("c-pre", "新品预售", Window(opens, opens + timedelta(days=3)),
                         {"sku-p": PresaleItem("sku-p", 5000, 10000, presale_price_fen=29900)},
                         balance_from=opens + timedelta(days=4),
                         balance_until=opens + timedelta(days=6),
                         release_at=opens + timedelta(days=7), unpaid_balance="refund_deposit")
    q = quote(PricingRules(presales=(offer,)),
              QuoteRequest(lines=(line("p", 39900, quantity=1, sku="sku-p"),), now=FRIDAY_EVENING))
    (quoted,) = q.lines
    assert (quoted.payable_fen, quoted.deposit_fen, quoted.balance_fen) == (24900, 5000, 19900)
    assert [(d.source, d.fen) for d in quoted.discounts] == [("presale", 10000), ("presale", 5000)]
    assert quoted.presale.balance_from == offer.balance_from
    assert quoted.presale.release_at == offer.release_at
    assert quoted.presale.unpaid_balance == "refund_deposit"
    assert "新品预售 预售价 −¥100.00" in q.explanation and "新品预售 定金膨胀 −¥50.00" in q.explanation


def test_an_ordinary_line_has_no_presale_terms():
    q = quote(PricingRules(), QuoteRequest(lines=(line("p", 9900),), now=NOW))
    assert q.lines[0].presale is None and q.lines[0].deposit_fen == 0
