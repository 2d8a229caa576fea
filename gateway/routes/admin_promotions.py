"""Promotions for staff (admin, operator): coupon templates, issuing and revoking coupons, and
campaigns (flash sales, sales, threshold ladders, gifts with purchase, pre-sales); editing both (the
whole spec with the `version` it was read at: a stale version is 409 `aborted`), retiring
templates, the history of who changed what, and the merchant's stacking rules for sale lines
(with the price floor). Promotion checks the business rules (every violation named by
field); the gateway checks shapes and roles."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2
from pydantic import AwareDatetime, BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer, from_json
from ..proto_models import model_of
from ..schemas import BY_NAME, IDEMPOTENT, JSON_SAFE_MAX, Fen, Id, PageSize, PageToken
from ..services import Promotions

router = APIRouter(prefix="/v1/admin", tags=["admin-promotions"],
                   dependencies=[Depends(auth.staff(*roles.MERCHANDISERS))])


CouponKind = Annotated[Literal["FIXED_AMOUNT", "PERCENTAGE", "NO_THRESHOLD"], BY_NAME]
Scope = Annotated[Literal["ALL", "CATEGORIES", "PRODUCTS"], BY_NAME]
CampaignKind = Annotated[Literal["FLASH_SALE", "THRESHOLD", "GIFT", "PRESALE", "SALE"], BY_NAME]
SaleScope = Annotated[Literal["SALE_ALL", "SALE_CATEGORIES", "SALE_PRODUCTS", "SALE_SKUS"], BY_NAME]
# Wide bounds: promotion names a percent outside 1..99 itself (field and rule).
Percent = Annotated[int, Field(ge=-1000, le=1000)]
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
    total_quantity: int = Field(ge=0, le=JSON_SAFE_MAX)
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
    weekday: int = Field(0, ge=0, le=7, description="1 Monday .. 7 Sunday (or weekdays)")
    weekdays: list[Annotated[int, Field(ge=-100, le=100)]] = Field(
        [], max_length=7, description="several days: Friday and Saturday are [5, 6]")
    start: str = Field(max_length=5, description="HH:MM, Beijing time")
    end: str = Field(max_length=5, description="HH:MM, Beijing time, after start")


class FlashSaleItem(BaseModel):
    sku_id: str = Field(max_length=64)
    sale_price_fen: Fen = 0
    price_percent: int = Field(0, ge=0, le=100, description="80 = 8 折")
    quota: int = Field(ge=0, le=JSON_SAFE_MAX)


class Rung(BaseModel):
    threshold_fen: Fen
    off_fen: Fen


class GiftRule(BaseModel):
    threshold_fen: Fen
    gift_sku_id: str = Field(max_length=64)
    gift_product_id: str = Field("", max_length=64)
    gift_title: str = Field(max_length=120)
    quantity_per_order: int = Field(1, ge=0, le=100)
    stock: int = Field(ge=0, le=JSON_SAFE_MAX)
    return_rule: Literal["return", "deduct"] = Field(
        "return", description="a refund of qualifying goods below the threshold: the gift is sent "
        "back (return), or gift_value_fen is kept from that refund (deduct)")
    gift_value_fen: Fen = Field(0, description="the gift's value a deduct rule keeps, 1..threshold_fen")


class PresaleItem(BaseModel):
    sku_id: str = Field(max_length=64)
    deposit_fen: Fen
    deposit_counts_as_fen: Fen
    presale_price_fen: Fen = Field(0, description="the unit price in the pre-sale; 0: the list price")


class PresaleRule(BaseModel):
    items: list[PresaleItem] = Field(max_length=200)
    balance_from: AwareDatetime
    balance_until: AwareDatetime
    early_access_from: AwareDatetime | None = None
    early_access_min_rank: int = Field(0, ge=0, le=100)
    release_at: AwareDatetime | None = Field(None, description="the ship date (at or after balance_from)")
    unpaid_balance: str = Field("", max_length=20, description="keep_deposit | refund_deposit: the "
                                "deposit when the balance is not paid in its window")


class SaleStacking(BaseModel):
    member_discount_on_sale_items: bool = False
    threshold_on_sale_items: bool = False
    coupons_on_sale_items: bool = False
    points_on_sale_items: bool = True


class SaleItem(BaseModel):
    sku_id: str = Field(max_length=64)
    sale_price_fen: Fen = 0
    price_percent: Percent = Field(0, description="80 = 8 折")
    quota: int = Field(0, ge=0, le=JSON_SAFE_MAX, description="0: no quota")


class SaleRule(BaseModel):
    """A price percentage over a scope (minus exclusions) and/or per-SKU prices."""
    scope: SaleScope = "SALE_ALL"
    category_ids: Ids = []
    product_ids: Ids = []
    sku_ids: Ids = []
    exclude_category_ids: Ids = []
    exclude_product_ids: Ids = []
    exclude_sku_ids: Ids = []
    price_percent: Percent = Field(0, description="a price percentage 1..99: 80 = 8 折 = 20% off")
    items: list[SaleItem] = Field([], max_length=200)
    stacking: SaleStacking | None = Field(None, description="this sale's own rules; else the merchant's")
    early_access_from: AwareDatetime | None = None
    early_access_min_rank: int = Field(0, ge=0, le=100)


class StackingInput(BaseModel):
    on_sale_items: SaleStacking
    floor_percent: Percent = Field(0, description="no line below this percent of its list price")


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
    sale: SaleRule | None = None


Version = Annotated[int, Field(ge=1, le=JSON_SAFE_MAX,
                               description="the version the edit was made on, as last read")]


class CouponTemplateEdit(CouponTemplateInput):
    """The whole spec as it should be, and the version it was read at."""
    version: Version


class CampaignEdit(CampaignInput):
    """The whole spec as it should be, and the version it was read at."""
    version: Version


def _spec(body: BaseModel, message_class):
    return from_json(body.model_dump(mode="json", exclude_none=True, exclude={"version"}),
                     message_class)


def _page(page_size: int, page_token: str) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=page_size, page_token=page_token)




# ------------------------------------------------------------------ coupon templates

@router.post("/coupon-templates", status_code=201,
             summary="Create a coupon template (Idempotency-Key makes a retry safe)",
             dependencies=[IDEMPOTENT],
             response_model=model_of(promotion_pb2.CouponTemplate))
async def create_coupon_template(promotions: Promotions, body: CouponTemplateInput) -> Response:
    spec = from_json(body.model_dump(mode="json", exclude_none=True), promotion_pb2.CouponTemplateSpec)
    return answer(await promotions.CreateCouponTemplate(
        promotion_pb2.CreateCouponTemplateRequest(spec=spec)), 201)


@router.get("/coupon-templates", summary="Coupon templates, newest first",
            response_model=model_of(promotion_pb2.ListCouponTemplatesResponse))
async def list_coupon_templates(promotions: Promotions, page_size: PageSize = 20,
                                page_token: PageToken = "") -> Response:
    return answer(await promotions.ListCouponTemplates(promotion_pb2.ListCouponTemplatesRequest(
        page=_page(page_size, page_token))))


@router.get("/coupon-templates/{template_id}", summary="One coupon template and how many were issued",
            response_model=model_of(promotion_pb2.CouponTemplate))
async def get_coupon_template(promotions: Promotions, template_id: Id) -> Response:
    return answer(await promotions.GetCouponTemplate(promotion_pb2.GetCouponTemplateRequest(id=template_id)))


@router.put("/coupon-templates/{template_id}",
            summary="Edit a coupon template: freely until it is in use; then only its text, a "
                    "bigger total (not below what is issued), a later end (409 aborted: a stale "
                    "version; 400 rule in_use: what its coupons are worth cannot change)",
            response_model=model_of(promotion_pb2.CouponTemplate))
async def update_coupon_template(promotions: Promotions, template_id: Id,
                                 body: CouponTemplateEdit) -> Response:
    return answer(await promotions.UpdateCouponTemplate(promotion_pb2.UpdateCouponTemplateRequest(
        id=template_id, version=body.version, spec=_spec(body, promotion_pb2.CouponTemplateSpec))))


@router.post("/coupon-templates/{template_id}/retire",
             summary="Retire a coupon template: no new claims or issues; coupons already issued "
                     "stay valid (a repeat changes nothing)",
             response_model=model_of(promotion_pb2.CouponTemplate))
async def retire_coupon_template(promotions: Promotions, template_id: Id) -> Response:
    return answer(await promotions.RetireCouponTemplate(
        promotion_pb2.RetireCouponTemplateRequest(id=template_id)))


@router.get("/coupon-templates/{template_id}/history",
            summary="Who changed the template, when and what (field: before → after), newest first",
            response_model=model_of(promotion_pb2.ListHistoryResponse))
async def coupon_template_history(promotions: Promotions, template_id: Id, page_size: PageSize = 20,
                                  page_token: PageToken = "") -> Response:
    return answer(await promotions.ListCouponTemplateHistory(promotion_pb2.ListHistoryRequest(
        id=template_id, page=_page(page_size, page_token))))


@router.post("/coupon-templates/{template_id}/issue", status_code=201,
             summary="Issue one coupon to each member of a list (all or none; Idempotency-Key "
                     "makes a retry safe)", dependencies=[IDEMPOTENT],
                     response_model=model_of(promotion_pb2.IssueCouponsResponse))
async def issue_coupons(promotions: Promotions, template_id: Id, body: IssueInput) -> Response:
    return answer(await promotions.IssueCoupons(promotion_pb2.IssueCouponsRequest(
        template_id=template_id, member_ids=body.member_ids)), 201)


@router.post("/coupons/{coupon_id}/revoke", summary="Take back an available coupon",
             response_model=model_of(promotion_pb2.Coupon))
async def revoke_coupon(promotions: Promotions, coupon_id: Id, body: RevokeInput) -> Response:
    return answer(await promotions.RevokeCoupon(promotion_pb2.RevokeCouponRequest(
        coupon_id=coupon_id, reason=body.reason)))


# ------------------------------------------------------------------ campaigns

@router.post("/campaigns", status_code=201,
             summary="Create a campaign (refused when it overlaps one the stacking rules forbid)",
             dependencies=[IDEMPOTENT],
             response_model=model_of(promotion_pb2.Campaign))
async def create_campaign(promotions: Promotions, body: CampaignInput) -> Response:
    spec = from_json(body.model_dump(mode="json", exclude_none=True), promotion_pb2.CampaignSpec)
    return answer(await promotions.CreateCampaign(promotion_pb2.CreateCampaignRequest(spec=spec)), 201)


@router.get("/campaigns", summary="Campaigns with their quotas, newest first",
            response_model=model_of(promotion_pb2.ListCampaignsResponse))
async def list_campaigns(promotions: Promotions, page_size: PageSize = 20, page_token: PageToken = "") -> Response:
    return answer(await promotions.ListCampaigns(
        promotion_pb2.ListCampaignsRequest(page=_page(page_size, page_token))))


@router.get("/campaigns/{campaign_id}", summary="One campaign and its quotas (total, taken)",
            response_model=model_of(promotion_pb2.Campaign))
async def get_campaign(promotions: Promotions, campaign_id: Id) -> Response:
    return answer(await promotions.GetCampaign(promotion_pb2.GetCampaignRequest(id=campaign_id)))


@router.post("/campaigns/{campaign_id}/end", summary="End a campaign now",
             response_model=model_of(promotion_pb2.Campaign))
async def end_campaign(promotions: Promotions, campaign_id: Id) -> Response:
    return answer(await promotions.EndCampaign(promotion_pb2.EndCampaignRequest(id=campaign_id)))


@router.put("/campaigns/{campaign_id}",
            summary="Edit a campaign: freely before it starts; while running only its text, its end "
                    "(not past) and its quotas (not below what is taken). 400 rule running: it "
                    "would reprice; 409 aborted: a stale version; 409: an ended campaign",
            response_model=model_of(promotion_pb2.Campaign))
async def update_campaign(promotions: Promotions, campaign_id: Id, body: CampaignEdit) -> Response:
    return answer(await promotions.UpdateCampaign(promotion_pb2.UpdateCampaignRequest(
        id=campaign_id, version=body.version, spec=_spec(body, promotion_pb2.CampaignSpec))))


@router.get("/campaigns/{campaign_id}/history",
            summary="Who changed the campaign, when and what (field: before → after), newest first",
            response_model=model_of(promotion_pb2.ListHistoryResponse))
async def campaign_history(promotions: Promotions, campaign_id: Id, page_size: PageSize = 20,
                           page_token: PageToken = "") -> Response:
    return answer(await promotions.ListCampaignHistory(promotion_pb2.ListHistoryRequest(
        id=campaign_id, page=_page(page_size, page_token))))


# ------------------------------------------------------------------ stacking rules

@router.get("/promotions/stacking",
            summary="Which discounts stack on sale lines, and the price floor",
            response_model=model_of(promotion_pb2.StackingRules))
async def get_stacking(promotions: Promotions) -> Response:
    return answer(await promotions.GetStackingRules(promotion_pb2.GetStackingRulesRequest()))


@router.put("/promotions/stacking",
            summary="Set which discounts stack on sale lines, and the price floor",
            response_model=model_of(promotion_pb2.StackingRules))
async def set_stacking(promotions: Promotions, body: StackingInput) -> Response:
    rules = from_json(body.model_dump(mode="json"), promotion_pb2.StackingRules)
    return answer(await promotions.SetStackingRules(promotion_pb2.SetStackingRulesRequest(rules=rules)))
