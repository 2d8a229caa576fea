"""Payment methods and Huabei installment pricing (pure arithmetic in fen)."""
import pytest

from servicekit.errors import InvalidArgument
from services.payment.methods import installment_plan, payment_methods


def test_three_methods_and_only_alipay_has_installments():
    options = payment_methods()
    assert [o.code for o in options] == ["wechat_jsapi", "alipay", "card"]
    alipay = options[1]
    assert [(i.periods, i.fee_rate_bp) for i in alipay.installments] == [(3, 230), (6, 450), (12, 750)]
    assert all(i.total_fen == 0 for i in alipay.installments)  # no amount, no prices
    assert options[0].installments == () and options[2].installments == ()


@pytest.mark.parametrize("amount,periods,fee,per_period", [
    (100000, 3, 2300, 34100),    # ¥1000 over 3: fee ¥23, 3 × ¥341
    (19900, 6, 896, 3466),       # 19900 × 4.5% = 895.5 → rounds half up to 896
    (1, 12, 0, 0),               # a fen costs no fee; the last period pays it
])
def test_installment_fee_rounds_half_up_and_periods_add_up_exactly(amount, periods, fee, per_period):
    plan = installment_plan(amount, periods)
    assert (plan.fee_fen, plan.per_period_fen) == (fee, per_period)
    assert plan.total_fen == amount + fee
    last = plan.total_fen - plan.per_period_fen * (periods - 1)
    assert 0 <= last - plan.per_period_fen < periods


def test_prices_every_plan_for_the_amount():
    alipay = payment_methods(100000)[1]
    assert [i.total_fen for i in alipay.installments] == [102300, 104500, 107500]


def test_a_negative_amount_is_refused():
    with pytest.raises(InvalidArgument) as err:
        payment_methods(-1)
    assert [(v.field, v.rule) for v in err.value.violations] == [("amount_fen", "non_negative")]


def test_the_largest_priced_amount_keeps_every_plan_within_what_json_reads_exactly():
    # the fuzzing run saw fee_fen "22822743309637478" (a string: protobuf's JSON for an int64
    # beyond 2^53) where the document promises an integer
    from services.payment.methods import max_priced_amount

    largest = max_priced_amount()
    for plan in payment_methods(largest)[1].installments:
        assert max(plan.fee_fen, plan.total_fen, plan.per_period_fen) <= 2**53 - 1
    with pytest.raises(InvalidArgument):
        payment_methods(largest + 1)
