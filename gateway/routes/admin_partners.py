"""Partner ERPs' credentials (/v1/admin/partners): admins issue and revoke; operators may list."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from mall.member.v1 import partner_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import Id
from ..services import Partners

router = APIRouter(prefix="/v1/admin/partners", tags=["admin-partners"])


class NewCredential(BaseModel):
    partner_id: str = Field(min_length=2, max_length=64, description="the partner's code, "
                            "a-z 0-9 '-' '_', e.g. erp-acme")
    partner_name: str = Field("", max_length=128)


@router.post("/credentials", status_code=201, dependencies=[Depends(auth.staff(roles.ADMIN))],
             summary="Issue a key for a partner; the secret is in this answer only",
             response_model=model_of(partner_pb2.IssuedPartnerCredential))
async def issue_partner_credential(partners: Partners, body: NewCredential) -> Response:
    return answer(await partners.IssuePartnerCredential(
        partner_pb2.IssuePartnerCredentialRequest(**body.model_dump())), 201)


@router.get("/credentials", dependencies=[Depends(auth.staff(*roles.MERCHANDISERS))],
            summary="Partner keys (never their secrets), newest first",
            response_model=model_of(partner_pb2.ListPartnerCredentialsResponse))
async def list_partner_credentials(partners: Partners, partner_id: Id = "",
                                   include_revoked: bool = False) -> Response:
    return answer(await partners.ListPartnerCredentials(partner_pb2.ListPartnerCredentialsRequest(
            partner_id=partner_id, include_revoked=include_revoked)))


@router.post("/credentials/{key_id}/revoke", dependencies=[Depends(auth.staff(roles.ADMIN))],
             summary="Revoke a key: its signatures are refused from now on",
             response_model=model_of(partner_pb2.PartnerCredential))
async def revoke_partner_credential(partners: Partners, key_id: Id) -> Response:
    return answer(await partners.RevokePartnerCredential(
        partner_pb2.RevokePartnerCredentialRequest(key_id=key_id)))
