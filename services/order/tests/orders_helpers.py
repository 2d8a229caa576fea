"""Placing orders for the tests the way the saga records them (placement.begin + confirm)."""
from datetime import datetime, timedelta, timezone

from mall.common.v1 import common_pb2
from mall.events.v1 import payment_events_pb2 as payments

from services.order import placement

ADDRESS = common_pb2.Address(recipient="林小姐", phone="13800138000", province="广东省",
                             city="深圳市", district="南山区", detail="科技园路 1 号")


def priced(lines=None, shipping_fee_fen=0, points_used=0, coupon_ids=()) -> placement.PricedOrder:
    lines = lines or [
        placement.PricedLine(sku_id="sku-75b-black", product_id="p-1", title="无钢圈聚拢文胸",
                             quantity=2, unit_price_fen=19900, paid_fen=37810,
                             discounts={"member": 1990}, sku_label="75B 黑色",
                             category_ids=("c-bra",)),
        placement.PricedLine(sku_id="sku-m-nude", product_id="p-2", title="蕾丝三角裤",
                             quantity=1, unit_price_fen=5900, paid_fen=5605,
                             discounts={"member": 295}, sku_label="M 肤色"),
    ]
    total = sum(line.unit_price_fen * line.quantity for line in lines)
    paid = sum(line.paid_fen for line in lines)
    return placement.PricedOrder(
        lines=lines, list_total_fen=total, discount_fen=total - paid, points_deduction_fen=0,
        shipping_fee_fen=shipping_fee_fen, payable_fen=paid + shipping_fee_fen,
        points_used=points_used, coupon_ids=tuple(coupon_ids),
        explanation=("金卡会员 95 折 −¥22.85",), member_tier="gold", member_tier_rank=2,
        priority_shipping=True)


def place(runtime, member_id="m-1", *, key="", discreet=False, now=None, pay_window=None,
          pricing=None):
    now = now or datetime.now(timezone.utc)
    with runtime.transaction() as session:
        order, _ = placement.begin(session, member_id=member_id, idempotency_key=key,
                                   fingerprint="f", channel="miniprogram", now=now)
        placement.confirm(session, runtime, order, pricing or priced(), address=ADDRESS,
                          discreet=discreet,
                          allocation=[{"warehouse_code": "SZ", "sku_id": "sku-75b-black",
                                       "quantity": 2}],
                          pay_window=pay_window or timedelta(minutes=30), now=now)
        return order.id


def succeeded(order_id, amount_fen, member_id="m-1", intent="pi-1"):
    return payments.PaymentSucceeded(payment_intent_id=intent, order_id=order_id,
                                     member_id=member_id, amount_fen=amount_fen, currency="CNY",
                                     method="wechat_jsapi", provider_transaction_id="wx-42")
