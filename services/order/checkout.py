"""The checkout saga (docs/architecture.md, "The checkout, end to end"), run by the api process:

    member.GetPricingProfile → promotion.Quote → promotion.LockForOrder → logistics.Reserve
    → member.SpendPoints → order PENDING_PAYMENT + order.created

Each remote step is keyed by the order id, so a retry repeats nothing. The request running the
saga holds a lease on the `placing` order (placement.py) and renews it before each step. A
failure fails the order first (announcing order.cancelled once anything may have been taken, so
points come back through member), then releases stock and coupons at once. After a crash, a
retry with the same key takes the placement over once its lease lapsed and runs the saga again
at the moment it began: every step already done replays, and the order is placed or undone then;
a placement nobody retries is undone by the worker's sweep (placement.sweep_stale).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mall.logistics.v1 import logistics_pb2, logistics_pb2_grpc
from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc
from mall.order.v1 import order_pb2
from mall.promotion.v1 import promotion_pb2, promotion_pb2_grpc
from sqlalchemy import select

from servicekit import grpc_client
from servicekit.addresses import checked_address
from servicekit.config import env
from servicekit.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Violations,
    from_rpc_error,
)
from servicekit.paging import fingerprint
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import early_access, gifts, placement, presale
from .models import CartItem, Order, ProductSku

log = logging.getLogger(__name__)
MAX_LINES, MAX_QUANTITY = 50, 99
CHANNELS = ("miniprogram", "h5")


def pay_window(flash_sale: bool) -> timedelta:
    """30 minutes to pay, 15 for flash-sale orders (their quota is scarce); both configurable."""
    if flash_sale:
        return timedelta(minutes=float(env("FLASH_PAY_WINDOW_MINUTES", "15", "order")))
    return timedelta(minutes=float(env("PAY_WINDOW_MINUTES", "30", "order")))


class Downstream:
    """The services the saga calls, through the kit's channels (deadlines, retries on
    UNAVAILABLE, the caller's identity and request id passed on)."""

    def __init__(self, targets: dict[str, str] | None = None):
        self.targets = targets or {}  # tests point at their own servers; else the configuration
        self._stubs = {}

    def _stub(self, service, stub_class):
        if stub_class not in self._stubs:
            self._stubs[stub_class] = stub_class(
                grpc_client.channel(service, target=self.targets.get(service)))
        return self._stubs[stub_class]

    @property
    def loyalty(self) -> loyalty_pb2_grpc.LoyaltyServiceStub:
        return self._stub("member", loyalty_pb2_grpc.LoyaltyServiceStub)

    @property
    def promotion(self) -> promotion_pb2_grpc.PromotionServiceStub:
        return self._stub("promotion", promotion_pb2_grpc.PromotionServiceStub)

    @property
    def logistics(self) -> logistics_pb2_grpc.LogisticsServiceStub:
        return self._stub("logistics", logistics_pb2_grpc.LogisticsServiceStub)


def tier_rank(downstream: Downstream, member_id: str) -> int:
    """The member's tier rank now (member's GetPricingProfile)."""
    return _call("member", downstream.loyalty.GetPricingProfile,
                 loyalty_pb2.GetPricingProfileRequest(member_id=member_id)).tier_rank


def check_early_access(session, basket_: "Basket", member_id: str,
                       profile: loyalty_pb2.PricingProfile | None, now: datetime) -> None:
    """VIP 优先购 at placement (early_access.py): her tier as the checkout priced it."""
    early_access.check(session, [(f"lines[{i}].sku_id", sku) for i, (sku, _) in
                                 enumerate(basket_.items)], member_id,
                       lambda: profile.tier_rank if profile is not None else None, now)


def _call(service: str, method, request):
    try:
        return method(request)
    except grpc.RpcError as err:
        raise from_rpc_error(err, service) from None


@dataclass(frozen=True)
class Basket:
    """The SKUs being bought, priced and described from the product read model."""
    items: list[tuple[ProductSku, int]]


def basket(session, member_id: str, request: order_pb2.CheckoutRequest) -> Basket:
    """The request's lines, or the cart's available lines when it names none."""
    wanted = [(line.sku_id, line.quantity) for line in request.lines]
    if not wanted:
        wanted = [(item.sku_id, item.quantity) for item in session.scalars(
            select(CartItem).where(CartItem.member_id == member_id).order_by(CartItem.id))]
        if not wanted:
            raise FailedPrecondition("the cart is empty: add something, or name the lines to buy",
                                     [FieldViolation("lines", "required", "at least one line")])
    problems = Violations()
    if len(wanted) > MAX_LINES:
        problems.add("lines", "max_items", f"at most {MAX_LINES} different SKUs per order")
    seen: set[str] = set()
    for i, (sku_id, quantity) in enumerate(wanted):
        problems.check(sku_id not in seen, f"lines[{i}].sku_id", "unique",
                       "each SKU once; put the whole quantity on one line")
        seen.add(sku_id)
        problems.check(1 <= quantity <= MAX_QUANTITY, f"lines[{i}].quantity", "range",
                       f"a whole number from 1 to {MAX_QUANTITY}")
    problems.raise_if_any("the order's lines are invalid")
    rows = {row.sku_id: row for row in session.scalars(
        select(ProductSku).where(ProductSku.sku_id.in_([s for s, _ in wanted])))}
    for i, (sku_id, _) in enumerate(wanted):
        row = rows.get(sku_id)
        if row is None:
            problems.add(f"lines[{i}].sku_id", "exists", f"no product SKU {sku_id!r}")
        elif not row.published:
            problems.add(f"lines[{i}].sku_id", "published",
                         f"{row.title} is no longer on sale; remove it from the order")
    problems.raise_if_any("some lines cannot be bought")
    return Basket([(rows[sku_id], quantity) for sku_id, quantity in wanted])


def quote_request(basket: Basket, profile: loyalty_pb2.PricingProfile | None,
                  request: order_pb2.CheckoutRequest, now: datetime) -> promotion_pb2.QuoteRequest:
    at = Timestamp()
    at.FromDatetime(now)
    member = promotion_pb2.PricingMember()
    if profile is not None:
        member = promotion_pb2.PricingMember(
            member_id=profile.member_id, tier_code=profile.tier_code, tier_name=profile.tier_name,
            tier_rank=profile.tier_rank, discount_percent=profile.discount_percent,
            early_access_presale=profile.early_access,
            free_shipping_over_fen=profile.free_shipping_threshold_fen)
    return promotion_pb2.QuoteRequest(
        lines=[promotion_pb2.QuoteLine(line_id=str(n), sku_id=sku.sku_id, product_id=sku.product_id,
                                       category_ids=sku.category_ids or [], quantity=quantity,
                                       list_price_fen=sku.price_fen, title=sku.title)
               for n, (sku, quantity) in enumerate(basket.items, start=1)],
        member=member, coupon_ids=request.coupon_ids, points_to_use=request.points_to_use,
        address=request.shipping_address, now=at)


def sku_label(sku: ProductSku) -> str:
    attributes = sku.attributes or {}
    return " ".join(v for v in (attributes.get("size", ""), attributes.get("colour", "")) if v)


def priced_order(basket: Basket, quote: promotion_pb2.QuoteResponse,
                 profile: loyalty_pb2.PricingProfile | None) -> placement.PricedOrder:
    """The quote in the order's terms: one priced line per SKU bought plus the gifts."""
    by_line = {line.line_id: line for line in quote.lines}
    lines = []
    for n, (sku, quantity) in enumerate(basket.items, start=1):
        quoted = by_line[str(n)]
        discounts: dict[str, int] = {}
        for d in quoted.discounts:
            discounts[d.source] = discounts.get(d.source, 0) + d.fen
        lines.append(placement.PricedLine(
            sku_id=sku.sku_id, product_id=sku.product_id, title=sku.title, quantity=quantity,
            unit_price_fen=sku.price_fen, paid_fen=quoted.payable_fen, discounts=discounts,
            sku_code=sku.code, sku_label=sku_label(sku), attributes=dict(sku.attributes or {}),
            image_url=sku.image_url, category_ids=tuple(sku.category_ids or ()),
            sale_ends_at=rfc3339(quoted.sale_ends_at.ToDatetime(tzinfo=timezone.utc))
            if quoted.HasField("sale_ends_at") else ""))
    for gift in quote.gifts:
        lines.append(placement.PricedLine(
            sku_id=gift.sku_id, product_id=gift.product_id, title=gift.title,
            quantity=gift.quantity, unit_price_fen=0, paid_fen=0, gift=True,
            gift_terms=gifts.GiftTerms(  # quote line n is the order's line n (basket order)
                gift.campaign_id, gift.threshold_fen,
                dict(zip(gift.qualifying_line_ids, gift.qualifying_fen, strict=True)),
                gift.return_rule or gifts.RETURN, gift.gift_value_fen).to_json()))
    return placement.PricedOrder(
        lines=lines, list_total_fen=quote.list_total_fen,
        discount_fen=quote.discount_total_fen - quote.points_fen,
        points_deduction_fen=quote.points_fen, shipping_fee_fen=quote.shipping_fee_fen,
        payable_fen=quote.total_fen, points_used=quote.points_used,
        coupon_ids=tuple(quote.coupon_ids), explanation=tuple(quote.explanation),
        member_tier=profile.tier_code if profile else "",
        member_tier_rank=profile.tier_rank if profile else 0,
        priority_shipping=bool(profile and profile.priority_shipping),
        exclusive_service=bool(profile and profile.exclusive_service),
        flash_sale=is_flash_sale(quote), presale=presale.terms_of(quote))


def is_flash_sale(quote: promotion_pb2.QuoteResponse) -> bool:
    """A line bought at a flash-sale price takes quota; a gift's stock is a quota claim too, and
    does not make the order a flash-sale one (with its shorter pay window)."""
    gifts = {(g.campaign_id, g.sku_id) for g in quote.gifts}
    return any((c.campaign_id, c.sku_id) not in gifts for c in quote.quota_claims)


class Checkout:
    def __init__(self, runtime: Runtime, downstream: Downstream | None = None):
        self.runtime = runtime
        self.downstream = downstream or Downstream()

    def _price(self, member_id: str, request: order_pb2.CheckoutRequest, now: datetime):
        with self.runtime.transaction() as session:
            items = basket(session, member_id, request)
        profile = _call("member", self.downstream.loyalty.GetPricingProfile,
                        loyalty_pb2.GetPricingProfileRequest(member_id=member_id))
        with self.runtime.transaction() as session:  # before anything is priced or taken
            check_early_access(session, items, member_id, profile, now)
        quote = _call("promotion", self.downstream.promotion.Quote,
                      quote_request(items, profile, request, now))
        return items, profile, quote

    def preview(self, member_id: str, request: order_pb2.CheckoutRequest,
                now: datetime | None = None) -> placement.PricedOrder:
        items, profile, quote = self._price(member_id, request, now or datetime.now(timezone.utc))
        return priced_order(items, quote, profile)

    def place(self, member_id: str, request: order_pb2.CheckoutRequest, idempotency_key: str,
              now: datetime | None = None) -> Order:
        now = now or datetime.now(timezone.utc)
        cleaned = order_pb2.CheckoutRequest()
        cleaned.CopyFrom(request)
        cleaned.shipping_address.CopyFrom(checked_address(request.shipping_address))
        request = cleaned
        channel = request.channel or "miniprogram"
        if channel not in CHANNELS:
            raise InvalidArgument.field("channel", "one_of", f"one of {', '.join(CHANNELS)}")
        owner = placement.new_owner()
        with self.runtime.transaction() as session:
            order, new = placement.begin(
                session, member_id=member_id, idempotency_key=idempotency_key,
                fingerprint=fingerprint(request.SerializeToString(deterministic=True).hex()),
                channel=channel, now=now, owner=owner)
            resumed = False
            if not new:
                order, resumed = placement.take_over(session, order, owner)
                if not resumed:
                    return placement.replay(order)
                now = order.created_at  # priced and held as when it began: its steps replay
            saga = _Saga(order.id, owner, resumed=resumed, may_have_taken=resumed,
                         kept_quote=order.placing_quote, kept_profile=order.placing_profile)
        try:
            return self._run(order, member_id, request, now, saga)
        except placement.LeaseLost:
            with self.runtime.transaction() as session:  # another request finishes it: its answer
                return placement.replay(session.get(Order, order.id))
        except DomainError as err:
            self._compensate(saga, f"{type(err).__name__}: {err.message}", now)
            raise
        except Exception as err:
            self._compensate(saga, f"{type(err).__name__}: {err}", now)
            raise

    def _step(self, saga: "_Saga") -> None:
        """Before each remote step: the lease renewed (or LeaseLost)."""
        with self.runtime.transaction() as session:
            placement.renew(session, saga.order_id, saga.owner)

    def _kept_price(self, member_id: str, request: order_pb2.CheckoutRequest, saga: "_Saga",
                    now: datetime):
        """A resumed saga's basket, with the quote and profile its first attempt kept (its
        coupons and quota may be locked already: quoting again would find them taken)."""
        with self.runtime.transaction() as session:
            items = basket(session, member_id, request)
        quote = promotion_pb2.QuoteResponse.FromString(saga.kept_quote or b"")
        profile = loyalty_pb2.PricingProfile.FromString(saga.kept_profile or b"")
        with self.runtime.transaction() as session:
            check_early_access(session, items, member_id, profile, now)
        if [(line.sku_id, line.quantity) for line in quote.lines] != [
                (sku.sku_id, quantity) for sku, quantity in items.items]:
            raise FailedPrecondition("the cart changed while this checkout was being placed: "
                                     "check out again with a new idempotency key")
        return items, profile, quote

    def _run(self, order: Order, member_id: str, request, now: datetime, saga: "_Saga") -> Order:
        self._step(saga)
        if saga.kept_quote is not None:
            items, profile, quote = self._kept_price(member_id, request, saga, now)
        else:
            items, profile, quote = self._price(member_id, request, now)
        if request.expected_total_fen and request.expected_total_fen != quote.total_fen:
            raise FailedPrecondition(
                f"the total is now ¥{quote.total_fen / 100:.2f}, not the "
                f"¥{request.expected_total_fen / 100:.2f} shown: check the order again",
                [FieldViolation("expected_total_fen", "changed",
                                f"prices or promotions changed; the total is now {quote.total_fen}")])
        priced = priced_order(items, quote, profile)
        window = pay_window(priced.flash_sale)
        hold_until = Timestamp()
        hold_until.FromDatetime(now + window + timedelta(minutes=5))  # outlives the pay window
        with self.runtime.transaction() as session:
            placement.keep_quote(session, order.id, saga.owner, quote.SerializeToString(),
                                 profile.SerializeToString())
        saga.may_have_taken = True  # from the lock on, an undo announces the order cancelled
        lock = _call("promotion", self.downstream.promotion.LockForOrder,
                     promotion_pb2.LockForOrderRequest(
                         order_id=order.id, member_id=member_id, coupon_ids=quote.coupon_ids,
                         flash_lines=quote.quota_claims, expires_at=hold_until))
        if lock.status != "locked":  # a replay of a lock an earlier attempt's undo gave back
            raise FailedPrecondition(f"the checkout's coupons and quota were {lock.status}: "
                                     "check out again with a new idempotency key")
        reserve = logistics_pb2.ReserveRequest(
            order_id=order.id, shipping_address=request.shipping_address,
            hold_seconds=int((window + timedelta(minutes=5)).total_seconds()))
        quantities: dict[str, int] = {}
        for line in priced.lines:
            quantities[line.sku_id] = quantities.get(line.sku_id, 0) + line.quantity
        reserve.lines.extend(logistics_pb2.ReserveLine(sku_id=s, quantity=q)
                             for s, q in quantities.items())
        self._step(saga)
        reservation = _call("logistics", self.downstream.logistics.Reserve, reserve)
        if reservation.status != logistics_pb2.HELD:  # replayed after a release or its expiry
            raise FailedPrecondition("the stock held for this checkout was given back: check "
                                     "out again with a new idempotency key")
        if priced.points_used:
            with self.runtime.transaction() as session:  # known before spent: an undo returns them
                placement.renew(session, order.id, saga.owner)
                session.get(Order, order.id).points_used = priced.points_used
            _call("member", self.downstream.loyalty.SpendPoints, loyalty_pb2.SpendPointsRequest(
                order_id=order.id, member_id=member_id, points=priced.points_used))
        # A resumed order's pay window starts now (its holds outlive the window by 5 minutes,
        # longer than an abandoned placement waits for its retry).
        confirmed_at = datetime.now(timezone.utc) if saga.resumed else now
        allocation = [{"warehouse_code": a.warehouse_code, "sku_id": a.sku_id,
                       "quantity": a.quantity} for a in reservation.allocations]
        with self.runtime.transaction() as session:
            placed = placement.owned(session, order.id, saga.owner)
            placement.confirm(session, self.runtime, placed, priced,
                              address=request.shipping_address,
                              discreet=request.discreet_packaging, allocation=allocation,
                              pay_window=window, now=confirmed_at, shopper_note=request.note)
            placement.clear_cart(session, member_id, [sku.sku_id for sku, _ in items.items])
            return placed

    def _compensate(self, saga: "_Saga", reason: str, now: datetime) -> None:
        """Undoes a placement this request owns: the order failed first (announced cancelled if
        anything may have been taken), so no other request can confirm it, then stock and
        coupons released at once, newest first (whatever cannot be released now expires, and the
        announcement releases it again). Owned no more (taken over): nothing to undo here."""
        undone_at = datetime.now(timezone.utc) if saga.resumed else now
        try:
            with self.runtime.transaction() as session:
                placement.undo(session, self.runtime,
                               placement.owned(session, saga.order_id, saga.owner), reason,
                               undone_at, announce=saga.may_have_taken)
        except placement.LeaseLost:
            return
        if not saga.may_have_taken:
            return
        for service, method, request in (
                ("logistics", self.downstream.logistics.Release,
                 logistics_pb2.ReleaseRequest(order_id=saga.order_id, reason="placement_failed")),
                ("promotion", self.downstream.promotion.ReleaseForOrder,
                 promotion_pb2.ReleaseForOrderRequest(order_id=saga.order_id))):
            try:
                method(request)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND:  # nothing was taken there
                    log.warning("could not release %s for order %s (%s): its announcement "
                                "or expiry does", service, saga.order_id, err.code().name)


@dataclass
class _Saga:
    """One request's run of an order's saga: the order, the lease it holds, and whether a step
    that takes something was reached (by it, or by the crashed attempt it resumes)."""
    order_id: str
    owner: str
    resumed: bool = False
    may_have_taken: bool = False
    kept_quote: bytes | None = None
    kept_profile: bytes | None = None
