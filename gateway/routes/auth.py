"""Sign-in (shoppers through WeChat, staff with a password), token refresh and the caller's
profile. The member service issues the tokens; the gateway only verifies them."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from mall.member.v1 import member_pb2
from pydantic import BaseModel, Field

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..ratelimit import limit_logins
from ..services import MemberAuth

router = APIRouter()

_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many sign-in attempts from this address (Retry-After)"}}


class WechatLogin(BaseModel):
    code: str = Field(min_length=1, max_length=256, description="The code from wx.login()")


class StaffLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256, description="at least 10 characters")


class Refresh(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


@router.post("/v1/auth/wechat-login", tags=["auth"], summary="A shopper signs in with wx.login()'s code",
             dependencies=[Depends(limit_logins)], responses=_LIMITED,
             response_model=model_of(member_pb2.WechatLoginResponse))
async def wechat_login(body: WechatLogin, member_auth: MemberAuth) -> Response:
    return answer(await member_auth.WechatLogin(member_pb2.WechatLoginRequest(code=body.code)))


@router.post("/v1/auth/refresh", tags=["auth"], summary="Trade a refresh token for a new pair",
             dependencies=[Depends(limit_logins)], responses=_LIMITED,
             response_model=model_of(member_pb2.RefreshResponse))
async def refresh_tokens(body: Refresh, member_auth: MemberAuth) -> Response:
    return answer(await member_auth.Refresh(
        member_pb2.RefreshRequest(refresh_token=body.refresh_token)))


@router.post("/v1/admin/auth/login", tags=["auth"], summary="A staff member signs in",
             dependencies=[Depends(limit_logins)], responses=_LIMITED,
             response_model=model_of(member_pb2.StaffLoginResponse))
async def staff_login(body: StaffLogin, member_auth: MemberAuth) -> Response:
    return answer(await member_auth.StaffLogin(member_pb2.StaffLoginRequest(
        username=body.username, password=body.password)))


@router.get("/v1/me", tags=["me"], summary="The signed-in shopper's profile",
            dependencies=[Depends(auth.customer)], response_model=model_of(member_pb2.Me))
async def get_me(member_auth: MemberAuth) -> Response:
    return answer(await member_auth.GetMe(member_pb2.GetMeRequest()))


@router.get("/v1/admin/me", tags=["me"], summary="The signed-in staff member's profile",
            dependencies=[Depends(auth.any_staff)], response_model=model_of(member_pb2.Me))
async def get_staff_me(member_auth: MemberAuth) -> Response:
    return answer(await member_auth.GetMe(member_pb2.GetMeRequest()))


@router.post("/v1/admin/me/password", tags=["me"],
             summary="The signed-in staff member changes their password (new tokens returned)",
             dependencies=[Depends(auth.any_staff), Depends(limit_logins)], responses=_LIMITED,
             response_model=model_of(member_pb2.ChangePasswordResponse))
async def change_password(body: PasswordChange, member_auth: MemberAuth) -> Response:
    return answer(await member_auth.ChangePassword(member_pb2.ChangePasswordRequest(
        current_password=body.current_password, new_password=body.new_password)))
