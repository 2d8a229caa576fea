"""What the inbox says, in Chinese, about each order event."""
from __future__ import annotations

CANCEL_REASONS = {
    "timeout": "超时未支付，系统已自动取消",
    "member": "您已取消该订单",
    "staff": "商家已取消该订单",
    "stock": "商品库存不足，订单已取消",
    "balance_unpaid": "预售尾款未在期限内支付，订单已关闭",
}
UNPAID_BALANCE = {"keep_deposit": "逾期未付尾款，定金不退", "refund_deposit": "逾期未付尾款，定金原路退回"}


def yuan(fen: int) -> str:
    """19900 -> "199.00": integer arithmetic, never a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def order_paid(order_no: str, paid_fen: int) -> tuple[str, str]:
    return ("支付成功",
            f"您的订单 {order_no} 已支付 ¥{yuan(paid_fen)}，我们会尽快为您安排发货。")


def order_deposit_paid(order_no: str, deposit_fen: int, balance_fen: int, opens: str,
                       rule: str) -> tuple[str, str]:
    """opens: the Shanghai wall-clock time the balance window opens, e.g. "11月11日 00:00"."""
    return ("定金支付成功",
            f"您的预售订单 {order_no} 已支付定金 ¥{yuan(deposit_fen)}，尾款 ¥{yuan(balance_fen)} "
            f"将于 {opens} 开始支付，届时我们会提醒您。{UNPAID_BALANCE.get(rule, '')}。")


def order_balance_due(order_no: str, summary: str, balance_fen: int, until: str,
                      rule: str) -> tuple[str, str]:
    """until: the Shanghai wall-clock time the balance window closes."""
    return ("尾款待支付",
            f"您的预售订单 {order_no}（{summary or '您的订单'}）可以支付尾款了：¥{yuan(balance_fen)}，"
            f"请在 {until} 前完成支付，{UNPAID_BALANCE.get(rule, '逾期订单将关闭')}。")


def order_partly_refunded(order_no: str, refunded_fen: int) -> tuple[str, str]:
    return ("部分退款成功",
            f"您的订单 {order_no} 已退款 ¥{yuan(refunded_fen)}，款项将按原支付方式退回。")


def order_cancelled(order_no: str, reason: str) -> tuple[str, str]:
    # Order writes "timeout: not paid within ..." and the like: the word before the colon says why.
    why = CANCEL_REASONS.get(reason.split(":")[0].strip(), "订单已取消")
    return ("订单已取消",
            f"您的订单 {order_no}：{why}。如使用了优惠券，未过期的券已退回您的账户。")


def order_created(order_no: str, payable_fen: int, pay_by: str) -> tuple[str, str]:
    """pay_by: the Shanghai wall-clock time the order must be paid by, e.g. "21:35"."""
    return ("订单已提交",
            f"您的订单 {order_no} 已提交，应付 ¥{yuan(payable_fen)}，请在 {pay_by} 前完成支付，"
            "超时订单将自动取消。")


# A status change the shopper hears about, beyond paid and cancelled (which have their own
# events). {summary} is "您的订单" when the shopper asked for discreet packaging.
STATUS_NOTICES = {
    "partly_shipped": ("部分商品已发货", "订单 {order_no}（{summary}）部分商品已发货，其余商品将尽快发出。"),
    "shipped": ("订单已发货", "订单 {order_no}（{summary}）已发货，可在订单详情查看物流进度。"),
    "delivered": ("订单已送达", "订单 {order_no} 已送达，收到商品后请确认收货。"),
    "completed": ("订单已完成", "订单 {order_no} 已完成，感谢您的购买，欢迎评价。"),
    "refunded": ("退款成功", "订单 {order_no} 已全额退款，款项将原路退回。"),
}


def status_changed(status: str, order_no: str, summary: str) -> tuple[str, str] | None:
    notice = STATUS_NOTICES.get(status)
    if notice is None:
        return None
    title, body = notice
    return title, body.format(order_no=order_no, summary=summary or "您的订单")


def coupon_expiring(name: str, amount_fen: int, percent_off: int, until: str) -> tuple[str, str]:
    """until: Shanghai time as the shopper reads it, e.g. "11月26日 23:59"."""
    value = f"¥{yuan(amount_fen)}" if amount_fen else f"{(100 - percent_off) / 10:g} 折" \
        if percent_off else ""
    what = f"{name}（{value}）" if value else name
    return ("优惠券即将过期", f"您的优惠券 {what} 将于 {until} 过期，记得在过期前使用哦。")


REDEMPTION_FAILURES = {
    "not_found": "优惠券活动不存在",
    "ended": "优惠券活动已结束",
    "exhausted": "优惠券已发完",
    "out_of_stock": "礼品库存不足",
}


def points_redemption_failed(title: str, kind: str, points: int, reason: str) -> tuple[str, str]:
    why = REDEMPTION_FAILURES.get(reason, "无法发放" if kind == "coupon" else "无法发货")
    return ("积分已退回",
            f"您兑换的 {title} {why}，兑换未成功，{points} 积分已退回您的账户。")
