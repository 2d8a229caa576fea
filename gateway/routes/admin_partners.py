"""Partner ERPs' credentials (/v1/admin/partners): admins issue and revoke; operators may list."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from mall.member.v1 import partner_pb2, partner_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth
from ..convert import to_json

router = APIRouter(prefix="/v1/admin/partners", tags=["admin-partners"])


class NewCredential(BaseModel):
    partner_id: str = Field(min_length=2, max_length=64, description="the partner's code, "
                            "a-z 0-9 '-' '_', e.g. erp-acme")
    partner_name: str = Field("", max_length=128)


def _stub(request: Request) -> partner_pb2_grpc.PartnerServiceStub:
    return request.app.state.clients.stub("member", partner_pb2_grpc.PartnerServiceStub)


@router.post("/credentials", status_code=201, dependencies=[Depends(auth.staff(auth.ADMIN))],
             summary="Issue a key for a partner; the secret is in this answer only")
async def issue(body: NewCredential, request: Request) -> dict:
    return to_json(await request.app.state.clients.call(
        _stub(request).IssuePartnerCredential,
        partner_pb2.IssuePartnerCredentialRequest(**body.model_dump())))


@router.get("/credentials", dependencies=[Depends(auth.staff(auth.ADMIN, auth.OPERATOR))],
            summary="Partner keys (never their secrets), newest first")
async def list_credentials(request: Request, partner_id: str = "",
                           include_revoked: bool = False) -> dict:
    return to_json(await request.app.state.clients.call(
        _stub(request).ListPartnerCredentials, partner_pb2.ListPartnerCredentialsRequest(
            partner_id=partner_id, include_revoked=include_revoked)))


@router.post("/credentials/{key_id}/revoke", dependencies=[Depends(auth.staff(auth.ADMIN))],
             summary="Revoke a key: its signatures are refused from now on")
async def revoke(key_id: str, request: Request) -> dict:
    return to_json(await request.app.state.clients.call(
        _stub(request).RevokePartnerCredential,
        partner_pb2.RevokePartnerCredentialRequest(key_id=key_id)))
