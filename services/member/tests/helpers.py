"""Small helpers of the member tests."""
import os

import grpc
import jwt
import pytest


def as_user(user_id: str, *roles: str) -> list[tuple[str, str]]:
    md = [("x-mall-user-id", user_id)]
    if roles:
        md.append(("x-mall-roles", ",".join(roles)))
    return md


def claims(token: str) -> dict:
    return jwt.decode(token, os.environ["MALL_JWT_SECRET"], algorithms=["HS256"])


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value
