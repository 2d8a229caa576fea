"""Coupons for shoppers: their wallet by state, the coupons they may claim, claiming one.
(A price preview of the cart is order's checkout preview, which asks promotion.Quote.)"""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import Id, PageSize, PageToken
from ..services import Promotions

router = APIRouter(tags=["promotions"], dependencies=[Depends(auth.customer)])

CouponState = Literal["available", "locked", "used", "expired", "revoked"]


@router.get("/v1/me/coupons", summary="My coupons, newest first, optionally in one state",
            response_model=model_of(promotion_pb2.ListMyCouponsResponse))
async def list_my_coupons(promotions: Promotions, status: CouponState | None = None, page_size: PageSize = 20,
                          page_token: PageToken = "") -> Response:
    return answer(await promotions.ListMyCoupons(promotion_pb2.ListMyCouponsRequest(
        status=status or "", page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.get("/v1/coupons/claimable", summary="Coupons open for claiming, newest first",
            response_model=model_of(promotion_pb2.ListCouponTemplatesResponse))
async def list_claimable_coupons(promotions: Promotions, page_size: PageSize = 20,
                                 page_token: PageToken = "") -> Response:
    return answer(await promotions.ListClaimableCoupons(promotion_pb2.ListClaimableCouponsRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.post("/v1/coupons/{template_id}/claim", status_code=201,
             summary="Claim a coupon (409 when the per-member limit or the total is reached)",
             response_model=model_of(promotion_pb2.Coupon))
async def claim_coupon(promotions: Promotions, template_id: Id) -> Response:
    return answer(await promotions.ClaimCoupon(
        promotion_pb2.ClaimCouponRequest(template_id=template_id)), 201)
