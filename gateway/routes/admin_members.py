"""Loyalty for staff (admin, operator): tiers, the earning rule and birthday gift, the points
mall, point adjustments; and finding a member by phone (customer service too)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc, profile_pb2, profile_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth
from ..convert import to_json

router = APIRouter(prefix="/v1/admin", tags=["admin-members"])
OPERATORS = Depends(auth.staff(auth.ADMIN, auth.OPERATOR))

Fen = Field(ge=0, lt=2**63, description="fen (1/100 yuan), an integer")


class TierInput(BaseModel):
    name: str = Field(max_length=64)
    rank: int = Field(ge=0, le=1000)
    threshold_kind: str = Field("spend", description="spend (fen of completed orders) or points")
    threshold: int = Field(ge=-2**62, lt=2**62, description="fen or points; 0 or more")
    discount_percent: int = Field(100, ge=0, le=10_000, description="95 = 95折, 100 none")
    points_multiplier_percent: int = Field(100, ge=0, le=10_000, description="150 = 1.5x")
    free_shipping_threshold_fen: int = Field(0, ge=-2**62, lt=2**62)
    priority_shipping: bool = False
    exclusive_service: bool = False
    early_access: bool = False


class SettingsInput(BaseModel):
    earn_unit_fen: int = Field(gt=0, lt=2**63, description="every this much paid ...")
    earn_points_per_unit: int = Field(ge=0, le=100_000, description="... earns this many points")
    expire_after_years: int = Field(1, ge=0, le=10)
    birthday_coupon_template_id: str = Field("", max_length=64, description="empty: no gift")


class ItemInput(BaseModel):
    kind: str = Field(description="coupon or gift")
    title: str = Field(max_length=64)
    coupon_template_id: str = Field("", max_length=64)
    points_price: int = Field(ge=-2**62, lt=2**62)
    stock: int = Field(ge=-2**62, lt=2**62)
    per_member_limit: int = Field(0, ge=-1000, le=1_000_000)
    starts_at: str = Field("", description="RFC 3339; empty: now")
    ends_at: str = Field("", description="RFC 3339; empty: no end")
    active: bool = True


class Adjustment(BaseModel):
    points: int = Field(ge=-10**9, le=10**9, description="positive credits, negative debits")
    reason: str = Field(max_length=200)


class PhoneQuery(BaseModel):
    phone: str = Field(max_length=32)


def _admin(request: Request) -> loyalty_pb2_grpc.LoyaltyAdminServiceStub:
    return request.app.state.clients.stub("member", loyalty_pb2_grpc.LoyaltyAdminServiceStub)


async def _call(request: Request, method, message) -> dict:
    return to_json(await request.app.state.clients.call(method, message))


@router.get("/tiers", dependencies=[OPERATORS], summary="The tier ladder, by rank")
async def list_tiers(request: Request) -> dict:
    return await _call(request, _admin(request).ListTiers, loyalty_pb2.ListTiersRequest())


@router.put("/tiers/{code}", dependencies=[OPERATORS], summary="Create or replace a tier")
async def put_tier(code: str, body: TierInput, request: Request) -> dict:
    return await _call(request, _admin(request).PutTier, loyalty_pb2.Tier(code=code, **body.model_dump()))


@router.delete("/tiers/{code}", dependencies=[OPERATORS], status_code=204, summary="Delete a tier")
async def delete_tier(code: str, request: Request) -> Response:
    await _call(request, _admin(request).DeleteTier, loyalty_pb2.DeleteTierRequest(code=code))
    return Response(status_code=204)


@router.get("/loyalty-settings", dependencies=[OPERATORS],
            summary="The earning rule, point expiry and the birthday gift's coupon template")
async def get_settings(request: Request) -> dict:
    return await _call(request, _admin(request).GetLoyaltySettings,
                       loyalty_pb2.GetLoyaltySettingsRequest())


@router.put("/loyalty-settings", dependencies=[OPERATORS], summary="Change the loyalty settings")
async def put_settings(body: SettingsInput, request: Request) -> dict:
    return await _call(request, _admin(request).UpdateLoyaltySettings,
                       loyalty_pb2.LoyaltySettings(**body.model_dump()))


@router.get("/points-mall", dependencies=[OPERATORS], summary="Every points mall item")
async def list_items(request: Request) -> dict:
    return await _call(request, _admin(request).ListAllMallItems, loyalty_pb2.ListAllMallItemsRequest())


@router.post("/points-mall", dependencies=[OPERATORS], status_code=201, summary="List an item")
async def create_item(body: ItemInput, request: Request) -> dict:
    return await _call(request, _admin(request).PutMallItem, loyalty_pb2.MallItem(**body.model_dump()))


@router.put("/points-mall/{item_id}", dependencies=[OPERATORS], summary="Replace an item")
async def replace_item(item_id: str, body: ItemInput, request: Request) -> dict:
    return await _call(request, _admin(request).PutMallItem,
                       loyalty_pb2.MallItem(item_id=item_id, **body.model_dump()))


@router.post("/members/{member_id}/points-adjustments", dependencies=[OPERATORS], status_code=201,
             summary="Credit or debit a member's points, with the reason")
async def adjust(member_id: str, body: Adjustment, request: Request) -> dict:
    return await _call(request, _admin(request).AdjustPoints,
                       loyalty_pb2.AdjustPointsRequest(member_id=member_id, **body.model_dump()))


@router.post("/members/find-by-phone", summary="Find a member by mainland mobile number",
             dependencies=[Depends(auth.staff(auth.ADMIN, auth.OPERATOR, auth.AGENT))])
async def find_by_phone(body: PhoneQuery, request: Request) -> dict:
    """POST, so the number never lands in access logs as a query string."""
    stub = request.app.state.clients.stub("member", profile_pb2_grpc.ProfileServiceStub)
    return await _call(request, stub.FindMemberByPhone,
                       profile_pb2.FindMemberByPhoneRequest(phone=body.phone))
