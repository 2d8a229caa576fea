"""The shopper's own member data: profile, addresses, consents, points, tier, the points mall,
export and account deletion. Member checks the rules (and encrypts); the gateway checks shapes."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Response
from mall.common.v1 import common_pb2
from mall.member.v1 import loyalty_pb2, profile_pb2
from pydantic import BaseModel, Field, create_model

from .. import auth, data_export
from ..convert import answer, from_json, to_json
from ..proto_models import model_of
from ..schemas import IDEMPOTENT, Address, Id, PageTokenText
from ..services import (
    Analytics,
    Logistics,
    Loyalty,
    Notifications,
    Orders,
    Payments,
    Profile,
    Promotions,
)

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


class AddressInput(Address):
    is_default: bool = False


class ConsentInput(BaseModel):
    purpose: str = Field("marketing", max_length=32)
    granted: bool
    source: str = Field(max_length=64, description="where the member said so, e.g. miniprogram:settings")


class RedeemInput(BaseModel):
    quantity: int = Field(1, ge=1, le=99)
    address_id: str = Field("", max_length=36,
                            description="gift items: one of my saved addresses, where it ships")


def _address_request(body: AddressInput, message_class, **extra):
    address = body.model_dump(exclude={"is_default"})
    return message_class(address=common_pb2.Address(**address), is_default=body.is_default, **extra)


@router.get("/v1/me/profile", summary="My profile: name, phone, birthday, sizes, habits",
            response_model=model_of(profile_pb2.Profile))
async def get_profile(profile: Profile) -> Response:
    return answer(await profile.GetProfile(profile_pb2.GetProfileRequest()))


@router.patch("/v1/me/profile", summary="Change my profile (only the fields given)",
              response_model=model_of(profile_pb2.Profile))
async def update_profile(profile: Profile, body: ProfileChanges) -> Response:
    message = from_json(body.model_dump(exclude_none=True), profile_pb2.UpdateProfileRequest)
    return answer(await profile.UpdateProfile(message))


@router.get("/v1/me/addresses", summary="My addresses, the default first",
            response_model=model_of(profile_pb2.ListAddressesResponse))
async def list_addresses(profile: Profile) -> Response:
    return answer(await profile.ListAddresses(profile_pb2.ListAddressesRequest()))


@router.post("/v1/me/addresses", status_code=201, summary="Add an address (at most 20)",
             response_model=model_of(profile_pb2.MemberAddress))
async def create_address(profile: Profile, body: AddressInput) -> Response:
    return answer(await profile.CreateAddress(
        _address_request(body, profile_pb2.CreateAddressRequest)), 201)


@router.put("/v1/me/addresses/{address_id}", summary="Replace an address",
            response_model=model_of(profile_pb2.MemberAddress))
async def replace_address(profile: Profile, address_id: Id, body: AddressInput) -> Response:
    return answer(await profile.UpdateAddress(
        _address_request(body, profile_pb2.UpdateAddressRequest, address_id=address_id)))


@router.delete("/v1/me/addresses/{address_id}", status_code=204, summary="Delete an address")
async def delete_address(profile: Profile, address_id: Id) -> Response:
    await profile.DeleteAddress(profile_pb2.DeleteAddressRequest(address_id=address_id))
    return Response(status_code=204)


@router.get("/v1/me/consents", summary="My consents now, and every change",
            response_model=model_of(profile_pb2.ListConsentsResponse))
async def list_consents(profile: Profile) -> Response:
    return answer(await profile.ListConsents(profile_pb2.ListConsentsRequest()))


@router.post("/v1/me/consents", status_code=201, summary="Grant or withdraw a consent",
             response_model=model_of(profile_pb2.Consent))
async def record_consent(profile: Profile, body: ConsentInput) -> Response:
    return answer(await profile.RecordConsent(
        profile_pb2.RecordConsentRequest(**body.model_dump())), 201)


MyPoints = create_model("MyPoints", __module__=__name__, __base__=(
    model_of(loyalty_pb2.ListPointsHistoryResponse), model_of(loyalty_pb2.PointsBalance)))


@router.get("/v1/me/export", summary="Everything the shop holds on me, as JSON: a section per "
            "service (503 naming a service that did not answer)", response_model=data_export.MyDataExport)
async def export_my_data(profile: Profile, orders: Orders, shipments: Logistics,
                         payments: Payments, promotions: Promotions,
                         notifications: Notifications, analytics: Analytics,
                         me: auth.Principal = Depends(auth.customer)) -> Response:
    body = await data_export.gather(me.user_id, profile, {
        "order": orders.ExportMemberData, "logistics": shipments.ExportMemberData,
        "payment": payments.ExportMemberData, "promotion": promotions.ExportMemberData,
        "support": notifications.ExportMemberData, "analytics": analytics.ExportMemberData})
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"',
                             "Cache-Control": "no-store"})


@router.delete("/v1/me", summary="Delete my account and erase my personal data",
               response_model=model_of(profile_pb2.DeleteMyAccountResponse))
async def delete_account(profile: Profile, confirm: bool = Query(
        False, description="must be true: deleting the account cannot be undone")) -> Response:
    return answer(await profile.DeleteMyAccount(
        profile_pb2.DeleteMyAccountRequest(confirm=confirm)))


@router.get("/v1/me/points", summary="My points balance and history, newest first",
            response_model=MyPoints)
async def get_my_points(loyalty: Loyalty, page_size: int = Query(20, ge=1, le=100),
                        page_token: PageTokenText = "") -> Response:
    history = to_json(await loyalty.ListPointsHistory(loyalty_pb2.ListPointsHistoryRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))
    balance = to_json(await loyalty.GetPointsBalance(loyalty_pb2.GetPointsBalanceRequest()))
    return answer({**history, **balance})


@router.get("/v1/me/tier", summary="My tier, its benefits and what the next one needs",
            response_model=model_of(loyalty_pb2.TierStatus))
async def get_my_tier(loyalty: Loyalty) -> Response:
    return answer(await loyalty.GetMyTier(loyalty_pb2.GetMyTierRequest()))


@router.get("/v1/points-mall", summary="What points buy now",
            response_model=model_of(loyalty_pb2.ListMallItemsResponse))
async def list_mall_items(loyalty: Loyalty) -> Response:
    return answer(await loyalty.ListMallItems(loyalty_pb2.ListMallItemsRequest()))


@router.post("/v1/points-mall/{item_id}/redeem", status_code=201,
             summary="Redeem an item for points (send an Idempotency-Key to retry safely)",
             dependencies=[IDEMPOTENT],
             response_model=model_of(loyalty_pb2.Redemption))
async def redeem_mall_item(loyalty: Loyalty, item_id: Id, body: RedeemInput) -> Response:
    return answer(await loyalty.Redeem(
        loyalty_pb2.RedeemRequest(item_id=item_id, quantity=body.quantity,
                                  address_id=body.address_id)), 201)
