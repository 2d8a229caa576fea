"""What order announces (order.*) as logistics, promotion, member, payment, support and analytics
read it, and what its worker takes from catalog, logistics and payment. Order is driven through
its gRPC API (seeded as in test_order_checkout.py); the others' events reach it as their relays
would send them."""
from __future__ import annotations

import grpc
from mall.events.v1 import catalog_events_pb2 as catalog
from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as ev
from mall.events.v1 import payment_events_pb2 as payments
from mall.events.v1 import support_events_pb2 as support
from mall.order.v1 import order_pb2 as pb
from support_a import announced, bra_product, checkout, deliver, delivered, keyed, paid, refusal, worker_takes
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import service
from services.order.models import TrialInvitation


def refund(order: pb.OrderView, amount: int, total: int) -> payments.PaymentRefunded:
    return payments.PaymentRefunded(
        payment_intent_id=f"pi-{order.order_id}", order_id=order.order_id,
        member_id=order.member_id, refund_id=f"rf-{total}", amount_fen=amount,
        refunded_total_fen=total, paid_fen=order.payable_fen, full=total >= order.payable_fen,
        method="wechat_jsapi", lines=[payments.PaymentRefundLine(
            line_id=order.lines[0].line_id, sku_id=order.lines[0].sku_id, quantity=1,
            amount_fen=amount)])


def test_an_orders_life_is_announced(shop):
    bought = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1), coupons=[shop.coupon_id],
                                             points=100, discreet_packaging=True),
                                    metadata=keyed(shop.me, "life"))
    paid(bought)
    delivered(bought)
    shop.orders.ConfirmReceipt(pb.ConfirmReceiptRequest(order_id=bought.order_id),
                               metadata=shop.me)
    deliver("order", "payment", "payment.refunded", refund(bought, 1000, 1000))
    dropped = shop.orders.PlaceOrder(checkout(("sku-80c-nude", 1), points=200),
                                     metadata=keyed(shop.me, "drop"))
    shop.orders.CancelOrder(pb.CancelOrderRequest(order_id=dropped.order_id, reason="买错了"),
                            metadata=shop.me)

    rt = service.runtime("order")
    created = announced(rt, "order.created", ev.OrderCreated)
    assert [(c.order_id, c.payable_fen, c.points_used) for c in created] == [
        (bought.order_id, bought.payable_fen, 100), (dropped.order_id, dropped.payable_fen, 200)]
    assert list(created[0].coupon_ids) == [shop.coupon_id] and created[0].pay_deadline
    assert [(line.sku_id, line.quantity) for line in created[0].lines] == [("sku-75b-black", 1)]
    (was_paid,) = announced(rt, "order.paid", ev.OrderPaid)
    assert (was_paid.order_id, was_paid.member_id, was_paid.paid_fen) == (
        bought.order_id, shop.member_id, bought.payable_fen)
    assert was_paid.discreet_packaging and was_paid.shipping_address.district == "南山区"
    assert list(was_paid.coupon_ids) == [shop.coupon_id] and was_paid.points_used == 100
    assert was_paid.lines[0].line_id and was_paid.lines[0].sku_code == "BRA-75B-BLK"
    changes = [(c.order_id, c.to_status) for c in announced(rt, "order.status_changed",
                                                            ev.OrderStatusChanged)]
    assert [s for o, s in changes if o == bought.order_id] == [
        "paid", "shipped", "delivered", "completed"]
    assert (dropped.order_id, "cancelled") in changes
    (completed,) = announced(rt, "order.completed", ev.OrderCompleted)
    assert (completed.order_id, completed.paid_fen) == (bought.order_id, bought.payable_fen)
    (refunded,) = announced(rt, "order.refunded", ev.OrderRefunded)
    assert (refunded.order_id, refunded.refunded_fen, refunded.full) == (bought.order_id, 1000,
                                                                        False)
    assert refunded.lines[0].line_id == bought.lines[0].line_id
    (cancelled,) = announced(rt, "order.cancelled", ev.OrderCancelled)
    assert (cancelled.order_id, cancelled.points_used, cancelled.was_paid) == (
        dropped.order_id, 200, False)


def test_the_worker_takes_products_stock_payments_and_shipments(shop, worker_process):
    shipped = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "s"))
    paid(shipped)
    waiting = shop.orders.PlaceOrder(checkout(("sku-80c-nude", 1)), metadata=keyed(shop.me, "w"))
    gown = bra_product("p-2")
    for sku, suffix in zip(gown.skus, ("a", "b"), strict=True):
        sku.sku_id, sku.code = f"sku-gown-{suffix}", f"GOWN-{suffix}"

    def versioned(version, status):
        product = catalog.CatalogProduct()
        product.CopyFrom(gown)
        product.version, product.status = version, status
        return product

    def moved(event_type, state, shipment_id="sh-1"):
        return ("logistics", event_type, shipping.ShipmentChanged(
            shipment_id=shipment_id, order_id=shipped.order_id, member_id=shipped.member_id,
            carrier="sf", waybill_no="SF1", state=state, shipment_count=1))

    worker_takes(worker_process, "order", [
        ("catalog", "product.published", catalog.ProductPublished(
            product=versioned(1, "published"))),
        ("catalog", "product.updated", catalog.ProductUpdated(product=versioned(2, "published"))),
        ("catalog", "product.unpublished", catalog.ProductUnpublished(
            product=versioned(3, "unpublished"))),
        ("catalog", "product.trial_invited", catalog.TrialInvited(
            product_id="p-2", member_ids=[shop.member_id], source="staff")),
        ("logistics", "inventory.availability_changed", shipping.AvailabilityChanged(skus=[
            shipping.SkuAvailability(sku_id="sku-75b-black", sellable=0, level=shipping.OUT)])),
        ("payment", "payment.succeeded", payments.PaymentSucceeded(
            payment_intent_id="pi-w", order_id=waiting.order_id, member_id=waiting.member_id,
            amount_fen=waiting.payable_fen, method="alipay")),
        ("payment", "payment.refunded", refund(shipped, 500, 500)),
        moved("shipment.picked_up", shipping.SHIPMENT_PICKED_UP),
        moved("shipment.in_transit", shipping.SHIPMENT_IN_TRANSIT),
        moved("shipment.out_for_delivery", shipping.SHIPMENT_OUT_FOR_DELIVERY),
        moved("shipment.delivered", shipping.SHIPMENT_DELIVERED),
        # a stopped order's parcels (another parcel of it: shown, the order does not move back;
        # the worker takes events of several queues at once, so one parcel's states would race)
        moved("shipment.cancelled", shipping.SHIPMENT_CANCELLED, "sh-2"),
        moved("shipment.returning", shipping.SHIPMENT_RETURNING, "sh-3"),
    ])

    def status(order):
        return shop.orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id),
                                    metadata=shop.me)

    assert status(waiting).status == "paid"
    assert (status(shipped).status, status(shipped).refunded_fen) == ("delivered", 500)
    cart = shop.cart.AddCartItem(pb.AddCartItemRequest(sku_id="sku-75b-black", quantity=1),
                                 metadata=shop.me)
    assert cart.lines[0].stock_level == "out"  # as logistics said
    err = refusal(shop.cart.AddCartItem, pb.AddCartItemRequest(sku_id="sku-gown-a", quantity=1),
                  metadata=shop.me)  # known, and unpublished: the newest version wins
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "no longer on sale" in err.details()
    with service.runtime("order").transaction() as session:  # the invitation is kept for the check
        assert session.get(TrialInvitation, ("p-2", shop.member_id)) is not None


def test_member_deleted_anonymises_her_orders_and_empties_her_cart(shop, worker_process):
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "e"))
    shop.cart.AddCartItem(pb.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1),
                          metadata=shop.me)
    worker_takes(worker_process, "order", [
        ("member", "member.deleted", member_events.MemberDeleted(
            member_id=order.member_id, deleted_at="2026-12-04T21:00:00Z"))])
    kept = shop.orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id), metadata=shop.me)
    address = kept.shipping_address
    assert (address.province, address.city, address.recipient, address.phone, address.detail) == (
        "广东省", "深圳市", "", "", "")
    # kept for the accounts; unpaid, it is cancelled (she can no longer pay it)
    assert (kept.payable_fen, kept.status) == (order.payable_fen, "cancelled")
    [cancelled] = [e for e in announced(service.runtime("order"), "order.cancelled", ev.OrderCancelled)
                   if e.order_id == order.order_id]
    assert cancelled.reason == "member_deleted"
    assert not shop.cart.GetCart(pb.GetCartRequest(), metadata=shop.me).lines


def test_the_worker_shows_support_after_sale_requests_on_the_order(shop, worker_process):
    """support's aftersale.* as support publishes them (support_events.proto), through the real
    worker: the order and the line it names show the request in its newest state."""
    bought = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "as"))
    paid(bought)
    delivered(bought)
    line = bought.lines[0]
    lines = [support.AfterSaleLine(line_id=line.line_id, sku_id=line.sku_id, product_id=line.product_id,
                                   quantity=1, refund_fen=line.paid_fen, size="75B")]
    who = dict(request_id="as-1", order_id=bought.order_id, member_id=bought.member_id)
    worker_takes(worker_process, "order", [
        ("support", "aftersale.applied", support.AfterSaleApplied(
            **who, kind="return_refund", reason_code="wrong_size", lines=lines,
            applied_at="2026-12-05T00:10:00Z")),
        ("support", "aftersale.approved", support.AfterSaleApproved(
            **who, kind="return_refund", lines=lines, return_expected=True, approved_by="auto")),
        ("support", "aftersale.refund_requested", support.AfterSaleRefundRequested(
            **who, refund_request_id="aftersale:as-1", amount_fen=line.paid_fen, lines=lines)),
        ("support", "aftersale.closed", support.AfterSaleClosed(
            **who, kind="return_refund", outcome="refunded", lines=lines,
            refunded_fen=line.paid_fen, reason_code="wrong_size")),
    ])
    shown = shop.orders.GetOrder(pb.GetOrderRequest(order_id=bought.order_id), metadata=shop.me)
    [request] = shown.aftersales
    assert (request.request_id, request.kind, request.state, request.outcome, request.quantity,
            request.refunded_fen) == ("as-1", "return_refund", "closed", "refunded", 1, line.paid_fen)
    [on_line] = shown.lines[0].aftersales
    assert (on_line.request_id, on_line.quantity, on_line.refund_fen) == ("as-1", 1, line.paid_fen)
