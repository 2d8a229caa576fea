"""Sign-in (shoppers through WeChat, staff with a password), token refresh and the caller's
profile. The member service issues the tokens; the gateway only verifies them."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from mall.member.v1 import member_pb2, member_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth
from ..convert import to_json
from ..ratelimit import limit_logins

router = APIRouter()

_LIMITED = {429: {"description": "Too many sign-in attempts from this address (Retry-After)"}}


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


def _auth(request: Request) -> member_pb2_grpc.AuthServiceStub:
    return request.app.state.clients.stub("member", member_pb2_grpc.AuthServiceStub)


@router.post("/v1/auth/wechat-login", tags=["auth"], summary="A shopper signs in with wx.login()'s code",
             dependencies=[Depends(limit_logins)], responses=_LIMITED)
async def wechat_login(body: WechatLogin, request: Request) -> dict:
    clients = request.app.state.clients
    reply = await clients.call(_auth(request).WechatLogin,
                               member_pb2.WechatLoginRequest(code=body.code))
    return to_json(reply)


@router.post("/v1/auth/refresh", tags=["auth"], summary="Trade a refresh token for a new pair",
             dependencies=[Depends(limit_logins)], responses=_LIMITED)
async def refresh(body: Refresh, request: Request) -> dict:
    clients = request.app.state.clients
    reply = await clients.call(_auth(request).Refresh,
                               member_pb2.RefreshRequest(refresh_token=body.refresh_token))
    return to_json(reply)


@router.post("/v1/admin/auth/login", tags=["auth"], summary="A staff member signs in",
             dependencies=[Depends(limit_logins)], responses=_LIMITED)
async def staff_login(body: StaffLogin, request: Request) -> dict:
    clients = request.app.state.clients
    reply = await clients.call(_auth(request).StaffLogin,
                               member_pb2.StaffLoginRequest(username=body.username,
                                                            password=body.password))
    return to_json(reply)


@router.get("/v1/me", tags=["me"], summary="The signed-in shopper's profile",
            dependencies=[Depends(auth.customer)])
async def me(request: Request) -> dict:
    clients = request.app.state.clients
    return to_json(await clients.call(_auth(request).GetMe, member_pb2.GetMeRequest()))


@router.get("/v1/admin/me", tags=["me"], summary="The signed-in staff member's profile",
            dependencies=[Depends(auth.any_staff)])
async def staff_me(request: Request) -> dict:
    clients = request.app.state.clients
    return to_json(await clients.call(_auth(request).GetMe, member_pb2.GetMeRequest()))


@router.post("/v1/admin/me/password", tags=["me"],
             summary="The signed-in staff member changes their password (new tokens returned)",
             dependencies=[Depends(auth.any_staff), Depends(limit_logins)], responses=_LIMITED)
async def change_password(body: PasswordChange, request: Request) -> dict:
    clients = request.app.state.clients
    reply = await clients.call(_auth(request).ChangePassword, member_pb2.ChangePasswordRequest(
        current_password=body.current_password, new_password=body.new_password))
    return to_json(reply)
