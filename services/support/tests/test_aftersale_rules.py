"""The after-sales rules, pure: the hygiene rule as a table, windows, final sale, repair,
refund-only before/after shipping, and the state machine transition by transition (actions in a
wrong state refused, late or repeated events ignored)."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.support import aftersale_rules as rules

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)
BRA_CATEGORY = "c-bras"
S = rules.Settings(intimate_category_ids=(BRA_CATEGORY,), final_sale_product_ids=("p-final",),
                   repair_enabled=True, repair_product_ids=("p-repair",),
                   free_return_tiers=("diamond",))


def line(product="p-1", categories=("c-tops",), days_ago=2.0, quantity=2, taken=0, shipped=True,
         delivered=True):
    return rules.LineFacts(product_id=product, category_ids=tuple(categories), quantity=quantity,
                           taken=taken, shipped=shipped,
                           delivered_at=NOW - timedelta(days=days_ago) if delivered else None)


R = rules.REASON_BY_CODE

# The hygiene table: goods touching the skin (by category or product), the reason, her
# declaration of the seal -> allowed, rule.
HYGIENE = [
    # intimate by category, no-reason: the seal must be declared intact
    (("c-bras",), "p-1", "no_reason_7_days", True, True, ""),
    (("c-bras",), "p-1", "no_reason_7_days", False, False, "seal"),
    (("c-bras",), "p-1", "wrong_size", False, False, "seal"),
    (("c-bras", "c-new"), "p-1", "wrong_size", True, True, ""),
    # a quality problem is not a no-reason return: the seal does not matter
    (("c-bras",), "p-1", "quality", False, True, ""),
    (("c-bras",), "p-1", "damaged", False, True, ""),
    # not intimate: the seal does not matter
    (("c-tops",), "p-1", "no_reason_7_days", False, True, ""),
    # intimate by product (the merchant's list)
    (("c-tops",), "p-bra", "no_reason_7_days", False, False, "seal"),
]


@pytest.mark.parametrize("categories,product,reason,seal,allowed,rule", HYGIENE)
def test_hygiene_table(categories, product, reason, seal, allowed, rule):
    s = rules.Settings(intimate_category_ids=("c-bras",), intimate_product_ids=("p-bra",))
    verdict = rules.judge(s, line(product, categories), "return_refund", R[reason], NOW,
                          seal_intact=seal)
    assert (verdict.allowed, verdict.rule) == (allowed, rule)


INSPECTION = [  # accepted by the warehouse, seal found intact, hygiene check needed -> accepted
    (True, True, True, True),
    (True, False, True, False),   # the seal broken on intimate no-reason goods: not accepted
    (True, False, False, True),   # not a hygiene case: the seal does not matter
    (False, True, True, False),
    (False, True, False, False),
]


@pytest.mark.parametrize("accepted,seal,hygiene,expected", INSPECTION)
def test_inspection_with_the_hygiene_rule(accepted, seal, hygiene, expected):
    assert rules.inspection_accepted(accepted, seal, hygiene) is expected


def test_hygiene_check_needed_only_for_no_reason_intimate():
    assert rules.hygiene_check_needed(S, line(categories=(BRA_CATEGORY,)), R["wrong_size"])
    assert not rules.hygiene_check_needed(S, line(categories=(BRA_CATEGORY,)), R["quality"])
    assert not rules.hygiene_check_needed(S, line(), R["wrong_size"])


WINDOWS = [  # kind, reason, days since delivery -> allowed, rule
    ("return_refund", "no_reason_7_days", 6.9, True, ""),
    ("return_refund", "no_reason_7_days", 7.1, False, "window_passed"),
    ("return_refund", "quality", 14.9, True, ""),
    ("return_refund", "quality", 15.1, False, "window_passed"),
    ("exchange", "wrong_size", 3, True, ""),
    ("refund_only", "not_received", 1, False, "delivered"),
    ("repair", "quality", 1, False, "repair_not_offered"),
    ("return_refund", "not_wanted", 1, False, "reason_kind"),
]


@pytest.mark.parametrize("kind,reason,days,allowed,rule", WINDOWS)
def test_windows_from_delivery(kind, reason, days, allowed, rule):
    verdict = rules.judge(S, line(days_ago=days), kind, R[reason], NOW)
    assert (verdict.allowed, verdict.rule) == (allowed, rule)


def test_final_sale_only_for_quality_and_repair_where_offered():
    assert rules.judge(S, line("p-final"), "return_refund", R["wrong_size"], NOW).rule == "final_sale"
    assert rules.judge(S, line("p-final"), "return_refund", R["quality"], NOW).allowed
    assert rules.judge(S, line("p-repair"), "repair", R["quality"], NOW).allowed
    off = rules.Settings(repair_product_ids=("p-repair",))  # repair disabled by the merchant
    assert rules.judge(off, line("p-repair"), "repair", R["quality"], NOW).rule == "repair_not_offered"


def test_refund_only_before_shipping_or_when_not_received():
    unshipped = line(shipped=False, delivered=False)
    in_transit = line(shipped=True, delivered=False)
    assert rules.judge(S, unshipped, "refund_only", R["not_wanted"], NOW).allowed
    assert rules.judge(S, in_transit, "refund_only", R["not_wanted"], NOW).rule == "shipped"
    assert rules.judge(S, in_transit, "refund_only", R["not_received"], NOW).allowed
    assert not rules.judge(S, unshipped, "refund_only", R["not_received"], NOW).allowed
    assert rules.judge(S, unshipped, "return_refund", R["quality"], NOW).rule == "not_delivered"


def test_nothing_left_when_every_unit_is_taken():
    assert rules.judge(S, line(quantity=2, taken=2), "return_refund", R["quality"],
                       NOW).rule == "nothing_left"


def test_free_return_shipping_for_quality_or_a_tier_benefit():
    assert rules.free_return_shipping(S, R["quality"], "")
    assert rules.free_return_shipping(S, R["wrong_size"], "diamond")
    assert not rules.free_return_shipping(S, R["wrong_size"], "gold")


@given(st.integers(0, 10**7), st.integers(1, 20), st.data())
def test_shares_never_exceed_what_was_paid(paid, bought, data):
    units = data.draw(st.integers(1, bought))
    share = rules.share_fen(paid, bought, units)
    assert 0 <= share <= paid and (units < bought or share == paid)
    assert share + rules.share_fen(paid, bought, bought - units) <= paid


def test_settings_round_trip():
    assert rules.Settings.from_dict(S.to_dict()) == S
    assert rules.Settings.from_dict({"unknown": 1}) == rules.Settings()


# ------------------------------------------------------------------ the state machine

T = [  # state, kind, action -> (state, outcome, refund_now, approved_now)
    ("applied", "refund_only", "approve", ("refunding", "", True, True)),
    ("applied", "return_refund", "approve", ("awaiting_return", "", False, True)),
    ("applied", "exchange", "approve", ("awaiting_return", "", False, True)),
    ("applied", "repair", "approve", ("awaiting_return", "", False, True)),
    ("applied", "return_refund", "refuse", ("closed", "refused", False, False)),
    ("applied", "return_refund", "withdraw", ("closed", "withdrawn", False, False)),
    ("applied", "return_refund", "ask_photos", ("awaiting_photos", "", False, False)),
    ("awaiting_photos", "return_refund", "photos_added", ("applied", "", False, False)),
    ("awaiting_photos", "return_refund", "withdraw", ("closed", "withdrawn", False, False)),
    ("awaiting_photos", "exchange", "approve", ("awaiting_return", "", False, True)),
    ("awaiting_return", "return_refund", "return_booked", ("returning", "", False, False)),
    ("awaiting_return", "return_refund", "expire", ("closed", "expired", False, False)),
    ("awaiting_return", "exchange", "withdraw", ("closed", "withdrawn", False, False)),
    ("awaiting_return", "exchange", "refuse", ("closed", "refused", False, False)),
    ("awaiting_return", "return_refund", "inspected_ok", ("refunding", "", True, False)),
    ("returning", "return_refund", "inspected_ok", ("refunding", "", True, False)),
    ("returning", "exchange", "inspected_ok", ("inspected", "", False, False)),
    ("returning", "repair", "inspected_ok", ("inspected", "", False, False)),
    ("returning", "return_refund", "inspected_failed", ("inspection_failed", "", False, False)),
    ("returning", "exchange", "exchange_shipped", ("closed", "exchanged", False, False)),
    ("inspected", "exchange", "exchange_shipped", ("closed", "exchanged", False, False)),
    ("inspected", "repair", "exchange_shipped", ("closed", "repaired", False, False)),
    ("inspected", "exchange", "partial_refund", ("refunding", "", True, False)),
    ("inspection_failed", "return_refund", "partial_refund", ("refunding", "", True, False)),
    ("inspection_failed", "return_refund", "refuse", ("closed", "refused", False, False)),
    ("refunding", "return_refund", "refunded", ("closed", "refunded", False, False)),
    ("refunding", "refund_only", "refunded", ("closed", "refunded", False, False)),
]


@pytest.mark.parametrize("state,kind,action,expected", T)
def test_each_transition(state, kind, action, expected):
    step = rules.transition(state, kind, action)
    assert (step.state, step.outcome, step.refund_now, step.approved_now) == expected


IGNORED = [  # late, repeated or out-of-place events change nothing
    ("returning", "return_refund", "return_booked"),        # booked twice
    ("closed", "return_refund", "inspected_ok"),            # after it closed
    ("closed", "refund_only", "refunded"),                  # payment.refunded redelivered
    ("applied", "return_refund", "refunded"),               # nothing was asked yet
    ("returning", "return_refund", "expire"),               # it was sent back in time
    ("applied", "return_refund", "expire"),
    ("refunding", "return_refund", "inspected_failed"),
    ("awaiting_return", "return_refund", "exchange_shipped"),
    ("inspection_failed", "return_refund", "inspected_ok"),
]


@pytest.mark.parametrize("state,kind,event", IGNORED)
def test_late_or_repeated_events_are_ignored(state, kind, event):
    assert rules.transition(state, kind, event) is None


REFUSED = [
    ("closed", "return_refund", "approve"),
    ("refunding", "return_refund", "refuse"),
    ("returning", "return_refund", "withdraw"),
    ("applied", "return_refund", "partial_refund"),
    ("awaiting_return", "return_refund", "ask_photos"),
    ("applied", "return_refund", "photos_added"),
]


@pytest.mark.parametrize("state,kind,action", REFUSED)
def test_actions_in_a_wrong_state_are_refused(state, kind, action):
    with pytest.raises(rules.Illegal):
        rules.transition(state, kind, action)


@given(st.lists(st.sampled_from(rules.ACTIONS + rules.EVENTS), max_size=30),
       st.sampled_from(rules.KINDS))
def test_any_sequence_stays_in_known_states_and_closed_is_final(actions, kind):
    state, outcome = "applied", ""
    for action in actions:
        try:
            step = rules.transition(state, kind, action)
        except rules.Illegal:
            continue
        if step is None:
            continue
        assert state != rules.CLOSED
        state, outcome = step.state, step.outcome or outcome
        assert state in rules.OPEN + (rules.CLOSED,)
    assert (state == rules.CLOSED) == bool(outcome)
