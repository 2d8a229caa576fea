"""Gifts with purchase after the sale: the rule a refund of qualifying goods is judged by, as a
table; recorded on the gift line when payment.refunded is heard (once, whatever the redelivery)."""
import pytest
from mall.events.v1 import payment_events_pb2 as payments

from services.order import gifts
from services.order.gifts import DEDUCTED, NOTHING, RETURN_REQUIRED, GiftTerms, Outcome, Units

# 满 300 赠: two qualifying lines, a bra counted 200.00 (2 units) and briefs 120.00 (3 units)
RETURN = GiftTerms("c-gift", 30000, {"bra": 20000, "briefs": 12000}, "return")
DEDUCT = GiftTerms("c-gift", 30000, {"bra": 20000, "briefs": 12000}, "deduct", 3000)
LINES = {"bra": Units(2), "briefs": Units(3), "gift": Units(1)}


@pytest.mark.parametrize("terms, lines, returning, kw, expected", [
    # one briefs back: 32000 - 4000 = 28000 < 30000 → the rule applies
    (RETURN, LINES, {"briefs": 1}, {}, Outcome(RETURN_REQUIRED)),
    (DEDUCT, LINES, {"briefs": 1}, {}, Outcome(DEDUCTED, 3000)),
    # money back without goods (a price adjustment): nothing counted comes back
    (DEDUCT, LINES, {"briefs": 0}, {}, NOTHING),
    # a line that never counted (not in scope) comes back: nothing
    (DEDUCT, LINES, {"socks": 2}, {}, NOTHING),
    # one bra of 2 back: 10000 + 12000 = 22000 < 30000
    (RETURN, {"bra": Units(2), "briefs": Units(3)}, {"bra": 1}, {}, Outcome(RETURN_REQUIRED)),
    # a lower threshold stays met: all briefs back leaves 20000 ≥ 20000
    (GiftTerms("c", 20000, {"bra": 20000, "briefs": 12000}), LINES, {"briefs": 3}, {}, NOTHING),
    # exactly at the threshold stays: 30000 counted, threshold 30000
    (GiftTerms("c", 30000, {"bra": 20000, "briefs": 15000}), LINES, {"briefs": 1}, {}, NOTHING),
    # what came back before counts: one briefs decides nothing (28000 ≥ 25000) ...
    (GiftTerms("c", 25000, {"bra": 20000, "briefs": 12000}),
     {"bra": Units(2), "briefs": Units(3)}, {"briefs": 1}, {}, NOTHING),
    # ... a second one later does: 20000 + 4000 = 24000 < 25000
    (GiftTerms("c", 25000, {"bra": 20000, "briefs": 12000}),
     {"bra": Units(2), "briefs": Units(3, returned=1)}, {"briefs": 1}, {}, Outcome(RETURN_REQUIRED)),
    # decided once: a later refund changes nothing
    (DEDUCT, LINES, {"bra": 2}, {"settled": True}, NOTHING),
    # the gift comes back with the goods: nothing to send back, nothing kept
    (DEDUCT, LINES, {"briefs": 3, "gift": 1}, {"gift_returning": True}, NOTHING),
    # a refund too small to keep the value keeps what it can ...
    (DEDUCT, LINES, {"briefs": 1}, {"refund_fen": 1999}, Outcome(DEDUCTED, 1999)),
    # ... and one that can keep nothing asks for the gift back
    (DEDUCT, LINES, {"briefs": 1}, {"refund_fen": 0}, Outcome(RETURN_REQUIRED)),
    # a deduct rule without a value is a return
    (GiftTerms("c", 30000, {"bra": 20000, "briefs": 12000}, "deduct", 0), LINES, {"briefs": 1}, {},
     Outcome(RETURN_REQUIRED)),
    # returning more units than bought counts as all of them
    (RETURN, LINES, {"bra": 9}, {}, Outcome(RETURN_REQUIRED)),
])
def test_the_rule(terms, lines, returning, kw, expected):
    assert gifts.judge(terms, lines, returning, **kw) == expected


def test_counted_rounds_down_per_line():
    assert gifts.counted(10000, Units(3), 1) == 6666
    assert gifts.counted(10000, Units(3), 0) == 10000
    assert gifts.counted(10000, Units(0), 0) == 0


def test_terms_round_trip_through_json():
    assert GiftTerms.from_json(DEDUCT.to_json()) == DEDUCT


class Line:
    """An order line as gifts.decide reads it."""
    def __init__(self, id, quantity, gift=False, gift_terms=None):
        self.id, self.quantity, self.gift, self.gift_terms = id, quantity, gift, gift_terms
        self.title, self.refunded_quantity, self.gift_outcome, self.gift_deducted_fen = "袋", 0, "", 0


def part(line_id, quantity, deducted=0):
    return payments.PaymentRefundLine(line_id=line_id, quantity=quantity, amount_fen=100,
                                      deducted_fen=deducted)


def test_the_outcome_is_recorded_on_the_gift_line_once():
    lines = [Line("bra", 2), Line("briefs", 3), Line("gift", 1, True, DEDUCT.to_json())]
    gifts.apply_refund(lines, [part("briefs", 1, deducted=3000)])
    assert (lines[2].gift_outcome, lines[2].gift_deducted_fen) == (DEDUCTED, 3000)
    assert lines[1].refunded_quantity == 1
    gifts.apply_refund(lines, [part("bra", 2)])  # settled: a second refund decides nothing
    assert (lines[2].gift_outcome, lines[2].gift_deducted_fen) == (DEDUCTED, 3000)


def test_a_deduct_rule_with_nothing_kept_asks_for_the_gift_back():
    lines = [Line("bra", 2), Line("briefs", 3), Line("gift", 1, True, DEDUCT.to_json())]
    gifts.apply_refund(lines, [part("briefs", 1)])  # payment kept nothing (an older payment)
    assert (lines[2].gift_outcome, lines[2].gift_deducted_fen) == (RETURN_REQUIRED, 0)
