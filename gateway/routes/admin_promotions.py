"""Promotions for staff (admin, operator): coupon templates, issuing and revoking coupons, and
campaigns (flash sales, threshold ladders, gifts with purchase, pre-sales). Promotion checks the
business rules (every violation named by field); the gateway checks shapes and roles."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2, promotion_pb2_grpc
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from .. import auth
from ..convert import from_json, to_json

router = APIRouter(prefix="/v1/admin", tags=["admin-promotions"],
                   dependencies=[Depends(auth.staff(auth.ADMIN, auth.OPERATOR))])


def _upper(value):
    return value.upper() if isinstance(value, str) else value


CouponKind = Annotated[Literal["FIXED_AMOUNT", "PERCENTAGE", "NO_THRESHOLD"], BeforeValidator(_upper)]
Scope = Annotated[Literal["ALL", "CATEGORIES", "PRODUCTS"], BeforeValidator(_upper)]
CampaignKind = Annotated[Literal["FLASH_SALE", "THRESHOLD", "GIFT", "PRESALE"], BeforeValidator(_upper)]
Fen = Annotated[int, Field(ge=0, lt=2**63, description="fen (1/100 yuan), an integer")]
Ids = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=200)]


class ValidityWindow(BaseModel):
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class CouponTemplateInput(BaseModel):
    """Give either `window` or `valid_days_after_claim`."""
    name: str = Field(max_length=64)
    description: str = Field("", max_length=500)
    kind: CouponKind
    amount_fen: Fen = 0
    threshold_fen: Fen = 0
    percent_off: int = Field(0, ge=0, le=100, description="PERCENTAGE: 15 means 15% off")
    cap_fen: Fen = 0
    window: ValidityWindow | None = None
    valid_days_after_claim: int | None = Field(None, ge=0, le=3650)
    per_member_limit: int = Field(ge=0, le=2**31 - 1)
    total_quantity: int = Field(ge=0, lt=2**63)
    scope: Scope = "ALL"
    category_ids: Ids = []
    product_ids: Ids = []
    claimable: bool = Field(False, description="shoppers may claim it themselves")


class IssueInput(BaseModel):
    member_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1,
                                                                               max_length=1000)


class RevokeInput(BaseModel):
    reason: str = Field("", max_length=200)


class WeeklySession(BaseModel):
    weekday: int = Field(ge=1, le=7, description="1 Monday .. 7 Sunday")
    start: str = Field(max_length=5, description="HH:MM, Beijing time")
    end: str = Field(max_length=5, description="HH:MM, Beijing time, after start")


class FlashSaleItem(BaseModel):
    sku_id: str = Field(max_length=64)
    sale_price_fen: Fen = 0
    price_percent: int = Field(0, ge=0, le=100, description="80 = 8 折")
    quota: int = Field(ge=0, lt=2**63)


class Rung(BaseModel):
    threshold_fen: Fen
    off_fen: Fen


class GiftRule(BaseModel):
    threshold_fen: Fen
    gift_sku_id: str = Field(max_length=64)
    gift_product_id: str = Field("", max_length=64)
    gift_title: str = Field(max_length=120)
    quantity_per_order: int = Field(1, ge=0, le=100)
    stock: int = Field(ge=0, lt=2**63)


class PresaleItem(BaseModel):
    sku_id: str = Field(max_length=64)
    deposit_fen: Fen
    deposit_counts_as_fen: Fen


class PresaleRule(BaseModel):
    items: list[PresaleItem] = Field(max_length=200)
    balance_from: AwareDatetime
    balance_until: AwareDatetime
    early_access_from: AwareDatetime | None = None
    early_access_min_rank: int = Field(0, ge=0, le=100)


class CampaignInput(BaseModel):
    name: str = Field(max_length=64)
    description: str = Field("", max_length=500)
    kind: CampaignKind
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    session: WeeklySession | None = None
    flash_items: list[FlashSaleItem] = Field([], max_length=200)
    per_member_limit: int = Field(0, ge=0, le=2**31 - 1)
    rungs: list[Rung] = Field([], max_length=10)
    scope: Scope | None = None
    category_ids: Ids = []
    product_ids: Ids = []
    gift: GiftRule | None = None
    presale: PresaleRule | None = None


def _stub(request: Request) -> promotion_pb2_grpc.PromotionServiceStub:
    return request.app.state.clients.stub("promotion", promotion_pb2_grpc.PromotionServiceStub)


async def _call(request: Request, method: str, message) -> dict:
    return to_json(await request.app.state.clients.call(getattr(_stub(request), method), message))


def _page(page_size: int, page_token: str) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=page_size, page_token=page_token)


PageSize = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str, Query(max_length=2048)]


# ------------------------------------------------------------------ coupon templates

@router.post("/coupon-templates", status_code=201,
             summary="Create a coupon template (Idempotency-Key makes a retry safe)")
async def create_coupon_template(body: CouponTemplateInput, request: Request) -> dict:
    spec = from_json(body.model_dump(mode="json", exclude_none=True), promotion_pb2.CouponTemplateSpec)
    return await _call(request, "CreateCouponTemplate",
                       promotion_pb2.CreateCouponTemplateRequest(spec=spec))


@router.get("/coupon-templates", summary="Coupon templates, newest first")
async def list_coupon_templates(request: Request, page_size: PageSize = 20,
                                page_token: PageToken = "") -> dict:
    return await _call(request, "ListCouponTemplates", promotion_pb2.ListCouponTemplatesRequest(
        page=_page(page_size, page_token)))


@router.get("/coupon-templates/{template_id}", summary="One coupon template and how many were issued")
async def get_coupon_template(template_id: str, request: Request) -> dict:
    return await _call(request, "GetCouponTemplate",
                       promotion_pb2.GetCouponTemplateRequest(id=template_id))


@router.post("/coupon-templates/{template_id}/issue", status_code=201,
             summary="Issue one coupon to each member of a list (all or none; Idempotency-Key "
                     "makes a retry safe)")
async def issue_coupons(template_id: str, body: IssueInput, request: Request) -> dict:
    return await _call(request, "IssueCoupons", promotion_pb2.IssueCouponsRequest(
        template_id=template_id, member_ids=body.member_ids))


@router.post("/coupons/{coupon_id}/revoke", summary="Take back an available coupon")
async def revoke_coupon(coupon_id: str, body: RevokeInput, request: Request) -> dict:
    return await _call(request, "RevokeCoupon", promotion_pb2.RevokeCouponRequest(
        coupon_id=coupon_id, reason=body.reason))


# ------------------------------------------------------------------ campaigns

@router.post("/campaigns", status_code=201,
             summary="Create a campaign (refused when it overlaps one the stacking rules forbid)")
async def create_campaign(body: CampaignInput, request: Request) -> dict:
    spec = from_json(body.model_dump(mode="json", exclude_none=True), promotion_pb2.CampaignSpec)
    return await _call(request, "CreateCampaign", promotion_pb2.CreateCampaignRequest(spec=spec))


@router.get("/campaigns", summary="Campaigns with their quotas, newest first")
async def list_campaigns(request: Request, page_size: PageSize = 20, page_token: PageToken = "") -> dict:
    return await _call(request, "ListCampaigns",
                       promotion_pb2.ListCampaignsRequest(page=_page(page_size, page_token)))


@router.get("/campaigns/{campaign_id}", summary="One campaign and its quotas (total, taken)")
async def get_campaign(campaign_id: str, request: Request) -> dict:
    return await _call(request, "GetCampaign", promotion_pb2.GetCampaignRequest(id=campaign_id))


@router.post("/campaigns/{campaign_id}/end", summary="End a campaign now")
async def end_campaign(campaign_id: str, request: Request) -> dict:
    return await _call(request, "EndCampaign", promotion_pb2.EndCampaignRequest(id=campaign_id))
