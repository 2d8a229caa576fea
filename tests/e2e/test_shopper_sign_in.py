"""A shopper signs in through the mini-program's login: gateway -> member -> WeChat (here the
stand-in the Procfile starts), and the same WeChat user is the same shopper next time."""
from __future__ import annotations

import secrets

import pytest

from .shop import ok

pytestmark = pytest.mark.e2e


def test_a_shopper_signs_in_with_wechat_and_is_recognised_next_time(mall):
    shopper = f"e2e{secrets.token_hex(4)}"
    with mall.client() as http:
        first = ok(http.post("/v1/auth/wechat-login", json={"code": f"{shopper}~1"}))
        again = ok(http.post("/v1/auth/wechat-login", json={"code": f"{shopper}~2"}))
        assert first["is_new"] is True and again["is_new"] is False
        assert first["member_id"] == again["member_id"]

        token = again["tokens"]["access_token"]
        me = ok(http.get("/v1/me", headers={"Authorization": f"Bearer {token}"}))
        assert me["customer"]["member_id"] == first["member_id"]
        # a shopper's token does not open the admin console
        reply = http.get("/v1/admin/products", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 403
