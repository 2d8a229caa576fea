"""The shopper's own member data: profile, addresses, consents, points, tier, the points mall,
export and account deletion. Member checks the rules (and encrypts); the gateway checks shapes."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request, Response
from mall.common.v1 import common_pb2
from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc, profile_pb2, profile_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth
from ..convert import from_json, to_json

router = APIRouter(tags=["me-member"], dependencies=[Depends(auth.customer)])


class Sizes(BaseModel):
    bra_band: int = Field(0, ge=0, le=200, description="e.g. 75; 0 unknown")
    bra_cup: str = Field("", max_length=4, description="e.g. B")
    bottoms_size: str = Field("", max_length=8, description="e.g. M")


class ProfileChanges(BaseModel):
    """Only the fields given change; an empty string clears one."""
    name: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32, description="a mainland mobile, e.g. 13800138000")
    birthday: str | None = Field(None, max_length=10, description="YYYY-MM-DD")
    sizes: Sizes | None = None


class AddressInput(BaseModel):
    recipient: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    province: str = Field("", max_length=32)
    city: str = Field("", max_length=64)
    district: str = Field("", max_length=64)
    detail: str = Field("", max_length=256)
    postal_code: str = Field("", max_length=16)
    is_default: bool = False


class ConsentInput(BaseModel):
    purpose: str = Field("marketing", max_length=32)
    granted: bool
    source: str = Field(max_length=64, description="where the member said so, e.g. miniprogram:settings")


class RedeemInput(BaseModel):
    quantity: int = Field(1, ge=1, le=99)


def _profile(request: Request) -> profile_pb2_grpc.ProfileServiceStub:
    return request.app.state.clients.stub("member", profile_pb2_grpc.ProfileServiceStub)


def _loyalty(request: Request) -> loyalty_pb2_grpc.LoyaltyServiceStub:
    return request.app.state.clients.stub("member", loyalty_pb2_grpc.LoyaltyServiceStub)


async def _call(request: Request, method, message) -> dict:
    return to_json(await request.app.state.clients.call(method, message))


def _address_request(body: AddressInput, message_class, **extra):
    address = body.model_dump(exclude={"is_default"})
    return message_class(address=common_pb2.Address(**address), is_default=body.is_default, **extra)


@router.get("/v1/me/profile", summary="My profile: name, phone, birthday, sizes, habits")
async def get_profile(request: Request) -> dict:
    return await _call(request, _profile(request).GetProfile, profile_pb2.GetProfileRequest())


@router.patch("/v1/me/profile", summary="Change my profile (only the fields given)")
async def update_profile(body: ProfileChanges, request: Request) -> dict:
    message = from_json(body.model_dump(exclude_none=True), profile_pb2.UpdateProfileRequest)
    return await _call(request, _profile(request).UpdateProfile, message)


@router.get("/v1/me/addresses", summary="My addresses, the default first")
async def list_addresses(request: Request) -> dict:
    return await _call(request, _profile(request).ListAddresses, profile_pb2.ListAddressesRequest())


@router.post("/v1/me/addresses", status_code=201, summary="Add an address (at most 20)")
async def create_address(body: AddressInput, request: Request) -> dict:
    return await _call(request, _profile(request).CreateAddress,
                       _address_request(body, profile_pb2.CreateAddressRequest))


@router.put("/v1/me/addresses/{address_id}", summary="Replace an address")
async def replace_address(address_id: str, body: AddressInput, request: Request) -> dict:
    return await _call(request, _profile(request).UpdateAddress,
                       _address_request(body, profile_pb2.UpdateAddressRequest, address_id=address_id))


@router.delete("/v1/me/addresses/{address_id}", status_code=204, summary="Delete an address")
async def delete_address(address_id: str, request: Request) -> Response:
    await _call(request, _profile(request).DeleteAddress,
                profile_pb2.DeleteAddressRequest(address_id=address_id))
    return Response(status_code=204)


@router.get("/v1/me/consents", summary="My consents now, and every change")
async def list_consents(request: Request) -> dict:
    return await _call(request, _profile(request).ListConsents, profile_pb2.ListConsentsRequest())


@router.post("/v1/me/consents", status_code=201, summary="Grant or withdraw a consent")
async def record_consent(body: ConsentInput, request: Request) -> dict:
    return await _call(request, _profile(request).RecordConsent,
                       profile_pb2.RecordConsentRequest(**body.model_dump()))


@router.get("/v1/me/export", summary="Everything the shop holds on me, as JSON")
async def export(request: Request) -> Response:
    reply = await request.app.state.clients.call(_profile(request).ExportMyData,
                                                 profile_pb2.ExportMyDataRequest())
    return Response(json.dumps(json.loads(reply.json), ensure_ascii=False),
                    media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"',
                             "Cache-Control": "no-store"})


@router.delete("/v1/me", summary="Delete my account and erase my personal data")
async def delete_account(request: Request, confirm: bool = Query(
        False, description="must be true: deleting the account cannot be undone")) -> dict:
    return await _call(request, _profile(request).DeleteMyAccount,
                       profile_pb2.DeleteMyAccountRequest(confirm=confirm))


@router.get("/v1/me/points", summary="My points balance and history, newest first")
async def points(request: Request, page_size: int = Query(20, ge=1, le=100),
                 page_token: str = "") -> dict:
    history = await _call(request, _loyalty(request).ListPointsHistory,
                          loyalty_pb2.ListPointsHistoryRequest(page=common_pb2.PageRequest(
                              page_size=page_size, page_token=page_token)))
    balance = await _call(request, _loyalty(request).GetPointsBalance,
                          loyalty_pb2.GetPointsBalanceRequest())
    return {**history, **balance}


@router.get("/v1/me/tier", summary="My tier, its benefits and what the next one needs")
async def tier(request: Request) -> dict:
    return await _call(request, _loyalty(request).GetMyTier, loyalty_pb2.GetMyTierRequest())


@router.get("/v1/points-mall", summary="What points buy now")
async def mall_items(request: Request) -> dict:
    return await _call(request, _loyalty(request).ListMallItems, loyalty_pb2.ListMallItemsRequest())


@router.post("/v1/points-mall/{item_id}/redeem", status_code=201,
             summary="Redeem an item for points (send an Idempotency-Key to retry safely)")
async def redeem(item_id: str, body: RedeemInput, request: Request) -> dict:
    return await _call(request, _loyalty(request).Redeem,
                       loyalty_pb2.RedeemRequest(item_id=item_id, quantity=body.quantity))
