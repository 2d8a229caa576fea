"""Coupons for shoppers: their wallet by state, the coupons they may claim, claiming one.
(A price preview of the cart is order's checkout preview, which asks promotion.Quote.)"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2, promotion_pb2_grpc

from .. import auth
from ..convert import to_json

router = APIRouter(tags=["promotions"], dependencies=[Depends(auth.customer)])

CouponState = Literal["available", "locked", "used", "expired", "revoked"]
PageSize = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str, Query(max_length=2048)]


async def _call(request: Request, method: str, message) -> dict:
    stub = request.app.state.clients.stub("promotion", promotion_pb2_grpc.PromotionServiceStub)
    return to_json(await request.app.state.clients.call(getattr(stub, method), message))


@router.get("/v1/me/coupons", summary="My coupons, newest first, optionally in one state")
async def my_coupons(request: Request, status: CouponState | None = None, page_size: PageSize = 20,
                     page_token: PageToken = "") -> dict:
    return await _call(request, "ListMyCoupons", promotion_pb2.ListMyCouponsRequest(
        status=status or "", page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))


@router.get("/v1/coupons/claimable", summary="Coupons open for claiming, newest first")
async def claimable_coupons(request: Request, page_size: PageSize = 20,
                            page_token: PageToken = "") -> dict:
    return await _call(request, "ListClaimableCoupons", promotion_pb2.ListClaimableCouponsRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))


@router.post("/v1/coupons/{template_id}/claim", status_code=201,
             summary="Claim a coupon (409 when the per-member limit or the total is reached)")
async def claim_coupon(template_id: str, request: Request) -> dict:
    return await _call(request, "ClaimCoupon", promotion_pb2.ClaimCouponRequest(template_id=template_id))
