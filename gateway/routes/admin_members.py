"""Loyalty for staff (admin, operator): tiers, the earning rule and birthday gift, the points
mall, point adjustments; and finding a member by phone (customer service too)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from mall.member.v1 import loyalty_pb2, profile_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import IDEMPOTENT, JSON_SAFE_MAX, Id
from ..services import LoyaltyAdmin, Profile

router = APIRouter(prefix="/v1/admin", tags=["admin-members"])
OPERATORS = Depends(auth.staff(*roles.MERCHANDISERS))


class TierInput(BaseModel):
    name: str = Field(max_length=64)
    rank: int = Field(ge=0, le=1000)
    threshold_kind: str = Field("spend", max_length=16, description="spend (fen of completed orders) or points")
    threshold: int = Field(ge=-2**62, lt=2**62, description="fen or points; 0 or more")
    discount_percent: int = Field(100, ge=0, le=10_000, description="95 = 95折, 100 none")
    points_multiplier_percent: int = Field(100, ge=0, le=10_000, description="150 = 1.5x")
    free_shipping_threshold_fen: int = Field(0, ge=-2**62, lt=2**62)
    priority_shipping: bool = False
    exclusive_service: bool = False
    early_access: bool = False


class SettingsInput(BaseModel):
    earn_unit_fen: int = Field(gt=0, le=JSON_SAFE_MAX, description="every this much paid ...")
    earn_points_per_unit: int = Field(ge=0, le=100_000, description="... earns this many points")
    expire_after_years: int = Field(1, ge=0, le=10)
    birthday_coupon_template_id: str = Field("", max_length=64, description="empty: no gift")


class ItemInput(BaseModel):
    kind: str = Field(max_length=16, description="coupon or gift")
    title: str = Field(max_length=64)
    coupon_template_id: str = Field("", max_length=64,
                                    description="coupon items: a template promotion can still issue")
    gift_sku_id: str = Field("", max_length=64, description="gift items: the SKU that ships")
    points_price: int = Field(ge=-2**62, lt=2**62)
    stock: int = Field(ge=-2**62, lt=2**62)
    per_member_limit: int = Field(0, ge=-1000, le=1_000_000)
    starts_at: str = Field("", max_length=40, description="RFC 3339; empty: now")
    ends_at: str = Field("", max_length=40, description="RFC 3339; empty: no end")
    active: bool = True


class PointsAdjustment(BaseModel):
    points: int = Field(ge=-10**9, le=10**9, description="positive credits, negative debits")
    reason: str = Field(max_length=200)


class PhoneQuery(BaseModel):
    phone: str = Field(max_length=32)


@router.get("/tiers", dependencies=[OPERATORS], summary="The tier ladder, by rank",
            response_model=model_of(loyalty_pb2.ListTiersResponse))
async def list_tiers(loyalty_admin: LoyaltyAdmin) -> Response:
    return answer(await loyalty_admin.ListTiers(loyalty_pb2.ListTiersRequest()))


@router.put("/tiers/{code}", dependencies=[OPERATORS], summary="Create or replace a tier",
            response_model=model_of(loyalty_pb2.Tier))
async def put_tier(loyalty_admin: LoyaltyAdmin, code: Id, body: TierInput) -> Response:
    return answer(await loyalty_admin.PutTier(loyalty_pb2.Tier(code=code, **body.model_dump())))


@router.delete("/tiers/{code}", dependencies=[OPERATORS], status_code=204, summary="Delete a tier")
async def delete_tier(loyalty_admin: LoyaltyAdmin, code: Id) -> Response:
    await loyalty_admin.DeleteTier(loyalty_pb2.DeleteTierRequest(code=code))
    return Response(status_code=204)


@router.get("/loyalty-settings", dependencies=[OPERATORS],
            summary="The earning rule, point expiry and the birthday gift's coupon template",
            response_model=model_of(loyalty_pb2.LoyaltySettings))
async def get_loyalty_settings(loyalty_admin: LoyaltyAdmin) -> Response:
    return answer(await loyalty_admin.GetLoyaltySettings(loyalty_pb2.GetLoyaltySettingsRequest()))


@router.put("/loyalty-settings", dependencies=[OPERATORS], summary="Change the loyalty settings",
            response_model=model_of(loyalty_pb2.LoyaltySettings))
async def update_loyalty_settings(loyalty_admin: LoyaltyAdmin, body: SettingsInput) -> Response:
    return answer(await loyalty_admin.UpdateLoyaltySettings(loyalty_pb2.LoyaltySettings(**body.model_dump())))


@router.get("/points-mall", dependencies=[OPERATORS], summary="Every points mall item",
            response_model=model_of(loyalty_pb2.ListMallItemsResponse))
async def list_mall_items(loyalty_admin: LoyaltyAdmin) -> Response:
    return answer(await loyalty_admin.ListAllMallItems(loyalty_pb2.ListAllMallItemsRequest()))


@router.post("/points-mall", dependencies=[OPERATORS], status_code=201, summary="List an item",
             response_model=model_of(loyalty_pb2.MallItem))
async def create_mall_item(loyalty_admin: LoyaltyAdmin, body: ItemInput) -> Response:
    return answer(await loyalty_admin.PutMallItem(loyalty_pb2.MallItem(**body.model_dump())), 201)


@router.put("/points-mall/{item_id}", dependencies=[OPERATORS], summary="Replace an item",
            response_model=model_of(loyalty_pb2.MallItem))
async def replace_mall_item(loyalty_admin: LoyaltyAdmin, item_id: Id, body: ItemInput) -> Response:
    return answer(await loyalty_admin.PutMallItem(loyalty_pb2.MallItem(item_id=item_id, **body.model_dump())))


@router.post("/members/{member_id}/points-adjustments", dependencies=[OPERATORS, IDEMPOTENT],
             status_code=201,
             summary="Credit or debit a member's points, with the reason",
             response_model=model_of(loyalty_pb2.PointsEntry))
async def adjust_points(loyalty_admin: LoyaltyAdmin, member_id: Id, body: PointsAdjustment) -> Response:
    return answer(await loyalty_admin.AdjustPoints(
        loyalty_pb2.AdjustPointsRequest(member_id=member_id, **body.model_dump())), 201)


@router.post("/members/find-by-phone", summary="Find a member by mainland mobile number",
             dependencies=[Depends(auth.staff(*roles.ORDER_DESK))],
             response_model=model_of(profile_pb2.FindMemberByPhoneResponse))
async def find_member_by_phone(profile: Profile, body: PhoneQuery) -> Response:
    """POST, so the number never lands in access logs as a query string."""
    return answer(await profile.FindMemberByPhone(profile_pb2.FindMemberByPhoneRequest(phone=body.phone)))
