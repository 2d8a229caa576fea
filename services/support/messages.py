"""What the inbox says, in Chinese, about each order event."""
from __future__ import annotations

CANCEL_REASONS = {
    "timeout": "超时未支付，系统已自动取消",
    "member": "您已取消该订单",
    "staff": "商家已取消该订单",
    "stock": "商品库存不足，订单已取消",
}


def yuan(fen: int) -> str:
    """19900 -> "199.00": integer arithmetic, never a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def order_paid(order_no: str, paid_fen: int) -> tuple[str, str]:
    return ("支付成功",
            f"您的订单 {order_no} 已支付 ¥{yuan(paid_fen)}，我们会尽快为您安排发货。")


def order_cancelled(order_no: str, reason: str) -> tuple[str, str]:
    why = CANCEL_REASONS.get(reason, "订单已取消")
    return ("订单已取消",
            f"您的订单 {order_no}：{why}。如使用了优惠券，未过期的券已退回您的账户。")
