"""LoyaltyService (shoppers, checkout) and LoyaltyAdminService (staff): tiers, points, the
points mall. Thin: the rules live in tiers.py, points.py, points_mall.py."""
from __future__ import annotations

import uuid
from datetime import datetime

from mall.common.v1 import common_pb2
from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc
from sqlalchemy import select

from servicekit import idempotency, paging, roles
from servicekit.context import current, require_roles, require_user
from servicekit.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Violations,
)
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..identity.accounts import live_member_id, require_member
from ..models import MallItem, PointsEntry, Tier
from ..profile import addresses
from ..profile.habits import parse_time
from ..profile.vault import Vault, default_vault
from . import points, points_mall, tiers
from .coupon_templates import CouponTemplates

ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "detail", "postal_code")

TIER_FIELDS = ("code", "name", "rank", "threshold_kind", "threshold", "discount_percent",
               "points_multiplier_percent", "free_shipping_threshold_fen", "priority_shipping",
               "exclusive_service", "early_access")


def tier_message(tier: Tier | None) -> loyalty_pb2.Tier | None:
    if tier is None:
        return None
    return loyalty_pb2.Tier(**{f: getattr(tier, f) for f in TIER_FIELDS})


def entry_message(e: PointsEntry) -> loyalty_pb2.PointsEntry:
    return loyalty_pb2.PointsEntry(entry_id=e.id, kind=e.kind, points=e.points,
                                   balance_after=e.balance_after, ref=e.ref or "", reason=e.reason,
                                   created_at=rfc3339(e.created_at),
                                   expires_at=rfc3339(e.expires_at), member_id=e.member_id)


def item_message(i: MallItem) -> loyalty_pb2.MallItem:
    return loyalty_pb2.MallItem(item_id=i.id, kind=i.kind, title=i.title,
                                coupon_template_id=i.coupon_template_id, points_price=i.points_price,
                                stock=i.stock, per_member_limit=i.per_member_limit,
                                starts_at=rfc3339(i.starts_at), ends_at=rfc3339(i.ends_at),
                                active=i.active, gift_sku_id=i.gift_sku_id or "")


def settings_message(s) -> loyalty_pb2.LoyaltySettings:
    return loyalty_pb2.LoyaltySettings(
        earn_unit_fen=s.earn_unit_fen, earn_points_per_unit=s.earn_points_per_unit,
        expire_after_years=s.expire_after_years,
        birthday_coupon_template_id=s.birthday_coupon_template_id, updated_at=rfc3339(s.updated_at))


def _shopper() -> str:
    return require_user("this").user_id


def _for_member(member_id: str) -> None:
    """Checkout calls without a user (service to service); a shopper only about themselves."""
    caller = current()
    if caller.user_id and caller.user_id != member_id and not caller.has_role(*roles.ORDER_DESK):
        raise PermissionDenied("a shopper may only use their own points and pricing profile")


def _member_id_field(v: Violations, member_id: str) -> None:
    try:
        uuid.UUID(member_id)
    except ValueError:
        v.add("member_id", "uuid", "the member's id (a UUID)")


def _time(v: Violations, value: str, field: str) -> datetime | None:
    if not value:
        return None
    moment = parse_time(value)
    v.check(moment is not None, field, "rfc3339", "an RFC 3339 time, e.g. 2026-12-01T00:00:00+08:00")
    return moment


class LoyaltyServicer(loyalty_pb2_grpc.LoyaltyServiceServicer):
    def __init__(self, runtime: Runtime, vault: Vault | None = None):
        self.runtime = runtime
        self.vault = vault

    def GetMyTier(self, request, context):
        with self.runtime.transaction() as session:
            member = require_member(session, _shopper())
            held = tiers.held(session, member.id)
            now = tiers.standing(session, member.id)
            higher = [t for t in tiers.ladder(session) if t.rank > held.rank]
            status = tiers.Standing(held, now.spend_fen, now.earned_points,
                                    higher[0] if higher else None)
            return loyalty_pb2.TierStatus(tier=tier_message(held), next_tier=tier_message(status.next_tier),
                                          qualifying_spend_fen=status.spend_fen,
                                          earned_points=status.earned_points, to_next=status.to_next)

    def GetPricingProfile(self, request, context):
        v = Violations()
        _member_id_field(v, request.member_id)
        v.raise_if_any()
        _for_member(request.member_id)
        with self.runtime.transaction() as session:
            if not live_member_id(session, request.member_id):
                raise NotFound(f"no member {request.member_id} (unknown or deleted)")
            tier = tiers.held(session, request.member_id)
            return loyalty_pb2.PricingProfile(
                member_id=request.member_id, tier_code=tier.code, tier_name=tier.name,
                tier_rank=tier.rank, discount_percent=tier.discount_percent,
                points_multiplier_percent=tier.points_multiplier_percent,
                free_shipping_threshold_fen=tier.free_shipping_threshold_fen,
                early_access=tier.early_access, priority_shipping=tier.priority_shipping,
                exclusive_service=tier.exclusive_service,
                points_balance=points.balance(session, request.member_id))

    def GetPointsBalance(self, request, context):
        with self.runtime.transaction() as session:
            member = require_member(session, _shopper())
            due, when = points.next_expiry(session, member.id)
            return loyalty_pb2.PointsBalance(balance=points.balance(session, member.id),
                                             expiring_points=due, expiring_at=rfc3339(when))

    def ListPointsHistory(self, request, context):
        size = paging.page_size(request.page.page_size)
        with self.runtime.transaction() as session:
            member = require_member(session, _shopper())
            bound = paging.fingerprint("points", member.id)
            after = paging.decode("member", request.page.page_token, bound)
            query = select(PointsEntry).where(PointsEntry.member_id == member.id)
            if after:
                query = query.where(PointsEntry.id < int(after[0]))
            rows = list(session.scalars(query.order_by(PointsEntry.id.desc()).limit(size + 1)))
            token = paging.encode("member", [rows[size - 1].id], bound) if len(rows) > size else ""
            return loyalty_pb2.ListPointsHistoryResponse(
                entries=[entry_message(e) for e in rows[:size]], balance=points.balance(session, member.id),
                page=common_pb2.PageInfo(next_page_token=token))

    def SpendPoints(self, request, context):
        v = Violations()
        v.check(0 < len(request.order_id) <= 64, "order_id", "required", "the order's id, 1..64 characters")
        _member_id_field(v, request.member_id)
        v.check(request.points > 0, "points", "positive", "at least 1 point")
        v.raise_if_any()
        _for_member(request.member_id)
        with self.runtime.transaction() as session:
            if not live_member_id(session, request.member_id):
                raise FailedPrecondition(f"member {request.member_id} does not exist or was deleted")
            if points.existing(session, points.RETURN, request.order_id) is not None:
                raise FailedPrecondition(f"order {request.order_id} was cancelled: its points went back")
            change = points.debit(session, request.member_id, points.SPEND, request.points,
                                  ref=request.order_id, reason=f"order {request.order_id}")
            spent = change.entry
            if not change.applied:  # a retried saga step, keyed by its order id
                idempotency.replay(spent, key=request.order_id, field="order_id",
                                   same=(spent.member_id, -spent.points) == (request.member_id,
                                                                             request.points))
            return loyalty_pb2.SpendPointsResponse(entry=entry_message(spent),
                                                   balance=points.balance(session, request.member_id))

    def ListMallItems(self, request, context):
        with self.runtime.transaction() as session:
            return loyalty_pb2.ListMallItemsResponse(
                items=[item_message(i) for i in points_mall.on_sale(session)])

    def Redeem(self, request, context):
        member_id = _shopper()
        key = current().idempotency_key
        idempotency.check_key(key)
        with self.runtime.transaction() as session:
            ship_to = None
            if request.address_id:  # a gift's destination, opened for logistics' event
                opened = addresses.open_one(session, self.vault or default_vault(), member_id,
                                            request.address_id)
                ship_to = points_mall.ShipTo(opened.row.id, {
                    f: str(opened.address.get(f) or "") for f in ADDRESS_FIELDS})
            done = points_mall.redeem(self.runtime, session, member_id, request.item_id,
                                      request.quantity, key, ship_to)
            r = done.redemption
            return loyalty_pb2.Redemption(redemption_id=r.id, item_id=r.item_id, quantity=r.quantity,
                                          points=r.points, balance=done.balance,
                                          redeemed_at=rfc3339(r.created_at), status=r.status)


class LoyaltyAdminServicer(loyalty_pb2_grpc.LoyaltyAdminServiceServicer):
    def __init__(self, runtime: Runtime, coupon_templates: CouponTemplates | None = None):
        self.runtime = runtime
        self.coupon_templates = coupon_templates or CouponTemplates()

    def ListTiers(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="managing tiers")
        with self.runtime.transaction() as session:
            return loyalty_pb2.ListTiersResponse(tiers=[tier_message(t) for t in tiers.ladder(session)])

    def PutTier(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="managing tiers")
        with self.runtime.transaction() as session:
            return tier_message(tiers.put(session, Tier(**{f: getattr(request, f) for f in TIER_FIELDS})))

    def DeleteTier(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="managing tiers")
        with self.runtime.transaction() as session:
            tiers.delete(session, request.code)
        return loyalty_pb2.DeleteTierResponse()

    def GetLoyaltySettings(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="reading the loyalty settings")
        with self.runtime.transaction() as session:
            return settings_message(points.settings(session))

    def UpdateLoyaltySettings(self, request, context):
        caller = require_roles(*roles.MERCHANDISERS, action="changing the loyalty settings")
        v = Violations()
        v.check(request.earn_unit_fen > 0, "earn_unit_fen", "positive", "fen per unit, e.g. 10000 (¥100)")
        v.check(request.earn_points_per_unit >= 0, "earn_points_per_unit", "not_negative",
                "points per unit, e.g. 10 (0 stops earning)")
        v.check(0 <= request.expire_after_years <= 10, "expire_after_years", "range",
                "0 (never) to 10; 1 = at the end of the year after earning")
        v.check(len(request.birthday_coupon_template_id) <= 64, "birthday_coupon_template_id",
                "max_length", "at most 64 characters; empty: no birthday gift")
        v.raise_if_any()
        with self.runtime.transaction() as session:
            s = points.settings(session)
            s.earn_unit_fen, s.earn_points_per_unit = request.earn_unit_fen, request.earn_points_per_unit
            s.expire_after_years = request.expire_after_years
            s.birthday_coupon_template_id = request.birthday_coupon_template_id
            s.updated_at, s.updated_by = utcnow(), caller.user_id
            return settings_message(s)

    def AdjustPoints(self, request, context):
        caller = require_roles(*roles.MERCHANDISERS, action="adjusting points")
        v = Violations()
        _member_id_field(v, request.member_id)
        v.check(request.points != 0, "points", "non_zero", "positive to credit, negative to debit")
        v.check(0 < len(request.reason.strip()) <= 200, "reason", "required",
                "why, for the member's history and the audit, 1..200 characters")
        v.raise_if_any()
        with self.runtime.transaction() as session:
            if not live_member_id(session, request.member_id):
                raise FailedPrecondition(f"member {request.member_id} does not exist or was deleted")
            reason, actor, key = request.reason.strip(), caller.user_id, caller.idempotency_key
            ref = f"{actor}:{key}" if key else None  # a retried adjustment is applied once

            def adjust():
                if request.points > 0:
                    rules = points.settings(session)
                    return points.credit(
                        session, request.member_id, points.ADJUST, request.points, reason=reason,
                        actor=actor, ref=ref,
                        expires_at=points.expiry_for(utcnow(), rules.expire_after_years)).entry
                return points.debit(session, request.member_id, points.ADJUST, -request.points,
                                    reason=reason, actor=actor, ref=ref).entry

            entry, _ = idempotency.create_once(
                session, key=key, create=adjust,
                find=lambda: points.existing(session, points.ADJUST, ref),
                same=lambda done: (done.member_id, done.points) == (request.member_id, request.points))
            return entry_message(entry)

    def ListAllMallItems(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="managing the points mall")
        with self.runtime.transaction() as session:
            return loyalty_pb2.ListMallItemsResponse(
                items=[item_message(i) for i in points_mall.all_items(session)])

    def PutMallItem(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="managing the points mall")
        v = Violations()
        starts, ends = _time(v, request.starts_at, "starts_at"), _time(v, request.ends_at, "ends_at")
        v.raise_if_any()
        item = MallItem(id=request.item_id, kind=request.kind, title=request.title,
                        coupon_template_id=request.coupon_template_id,
                        gift_sku_id=request.gift_sku_id if request.kind == "gift" else "",
                        points_price=request.points_price, stock=request.stock,
                        per_member_limit=request.per_member_limit, starts_at=starts, ends_at=ends,
                        active=request.active)
        if request.kind == "coupon" and request.coupon_template_id and request.active:
            # asked before the transaction: no row is locked while promotion answers. An item
            # taken off sale sells nothing: staff may always withdraw one whose template ended.
            self.coupon_templates.check_issuable(request.coupon_template_id)
        with self.runtime.transaction() as session:
            return item_message(points_mall.put_item(session, item))


def register(server, runtime: Runtime, vault: Vault | None = None) -> list[str]:
    loyalty_pb2_grpc.add_LoyaltyServiceServicer_to_server(LoyaltyServicer(runtime, vault), server)
    loyalty_pb2_grpc.add_LoyaltyAdminServiceServicer_to_server(LoyaltyAdminServicer(runtime), server)
    return [loyalty_pb2.DESCRIPTOR.services_by_name[n].full_name
            for n in ("LoyaltyService", "LoyaltyAdminService")]
