"""Staff accounts, for admins: create, list, change roles, disable."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from mall.common.v1 import common_pb2
from mall.member.v1 import member_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import Code, Id, PageTokenText
from ..services import MemberStaff

router = APIRouter(prefix="/v1/admin/staff", tags=["admin-staff"],
                   dependencies=[Depends(auth.staff(roles.ADMIN))])


class NewStaff(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    roles: list[Code] = Field(min_length=1, max_length=10, description="any of: admin, operator, cs_agent, "
                                                       "warehouse, analyst")
    display_name: str = Field(default="", max_length=64)


class StaffChanges(BaseModel):
    """Only the fields given change."""
    roles: list[Code] | None = Field(default=None, min_length=1, max_length=10)
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=64)


@router.post("", status_code=201, summary="Create a staff account",
             response_model=model_of(member_pb2.Staff))
async def create_staff(member_staff: MemberStaff, body: NewStaff) -> Response:
    return answer(await member_staff.CreateStaff(member_pb2.CreateStaffRequest(**body.model_dump())), 201)


@router.get("", summary="List staff accounts, by username",
            response_model=model_of(member_pb2.ListStaffResponse))
async def list_staff(member_staff: MemberStaff, include_disabled: bool = False,
                     page_size: int = Query(20, ge=1, le=100), page_token: PageTokenText = "") -> Response:
    req = member_pb2.ListStaffRequest(
        include_disabled=include_disabled,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))
    return answer(await member_staff.ListStaff(req))


@router.patch("/{staff_id}", summary="Change a staff account's roles, name or disabled flag",
              response_model=model_of(member_pb2.Staff))
async def update_staff(member_staff: MemberStaff, staff_id: Id, body: StaffChanges) -> Response:
    req = member_pb2.UpdateStaffRequest(staff_id=staff_id)
    if body.roles is not None:
        req.roles.roles.extend(body.roles)
    if body.disabled is not None:
        req.disabled = body.disabled
    if body.display_name is not None:
        req.display_name = body.display_name
    return answer(await member_staff.UpdateStaff(req))
