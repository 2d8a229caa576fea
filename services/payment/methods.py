"""The payment methods on offer, and what a Huabei installment plan costs the shopper."""
from __future__ import annotations

from dataclasses import dataclass

from servicekit.errors import InvalidArgument
from servicekit.ids import JSON_SAFE_MAX

# Huabei (花呗) installments with the shopper paying the fee: Alipay's published standard rates
# over the whole plan, in basis points. Merchant-paid (免息) plans are a campaign matter, later.
HUABEI_FEE_RATE_BP: dict[int, int] = {3: 230, 6: 450, 12: 750}
HUABEI_PERIODS = tuple(sorted(HUABEI_FEE_RATE_BP))   # Alipay's hb_fq_num
HUABEI_SELLER_PERCENTS = (0, 100)                    # hb_fq_seller_percent: who bears the fee


@dataclass(frozen=True)
class Installment:
    periods: int
    fee_rate_bp: int
    fee_fen: int = 0
    total_fen: int = 0
    per_period_fen: int = 0


@dataclass(frozen=True)
class MethodOption:
    code: str
    display_name: str
    installments: tuple[Installment, ...] = ()


def installment_plan(amount_fen: int, periods: int) -> Installment:
    """The fee rounds half up to the fen; each period pays total // periods and the last one
    also takes the remainder, so the periods always add up to the total exactly."""
    rate = HUABEI_FEE_RATE_BP[periods]
    fee = (amount_fen * rate + 5000) // 10000
    total = amount_fen + fee
    return Installment(periods, rate, fee, total, total // periods)


def max_priced_amount() -> int:
    """The largest amount whose every plan (the amount and its fee) a JSON client still reads
    exactly (an int64 beyond 2^53 reaches the shopper as a string)."""
    top_rate = max(HUABEI_FEE_RATE_BP.values())
    return (JSON_SAFE_MAX - 1) * 10000 // (10000 + top_rate)


def payment_methods(amount_fen: int = 0) -> list[MethodOption]:
    if amount_fen < 0:
        raise InvalidArgument.field("amount_fen", "non_negative",
                                    f"amount_fen is the amount to pay in fen, 0 or more; got {amount_fen}")
    if amount_fen > max_priced_amount():
        raise InvalidArgument.field("amount_fen", "max", "amount_fen is too large to price in "
                                    f"installments: at most {max_priced_amount()} fen")
    installments = tuple(
        installment_plan(amount_fen, periods) if amount_fen
        else Installment(periods, HUABEI_FEE_RATE_BP[periods])
        for periods in sorted(HUABEI_FEE_RATE_BP))
    return [
        MethodOption("wechat_jsapi", "微信支付"),
        MethodOption("alipay", "支付宝", installments),
        MethodOption("card", "银行卡"),
    ]
