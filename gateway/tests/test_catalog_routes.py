"""The catalog through the gateway against the real catalog server: staff build a product,
upload its image, publish it; shoppers list, search and open it; errors name their fields."""
from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from .helpers import bearer, token

OPERATOR = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("operator",)))


@pytest.fixture
def gateway(gateway_with):
    return gateway_with("catalog")


def png(width=800, height=1000, colour=(200, 30, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def category(gateway, kind: str, name: str, parent_id: str = "") -> str:
    response = gateway.post("/v1/admin/categories", headers=OPERATOR,
                            json={"kind": kind, "name": name, "parent_id": parent_id})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def new_product(gateway, style_id: str, *, title="云朵无钢圈文胸", price_fen=19900,
                function_ids=()) -> dict:
    response = gateway.post("/v1/admin/products", headers=OPERATOR, json={
        "title": title, "subtitle": "软支撑 全天舒适", "category_id": style_id,
        "function_ids": list(function_ids), "size_system": "bra",
        "description": {"material": "锦纶 82% 氨纶 18%"},
        "skus": [{"code": f"YD-{uuid.uuid4().hex[:8]}", "band": 75, "cup": "B",
                  "colour": "黑色", "price_fen": price_fen},
                 {"code": f"YD-{uuid.uuid4().hex[:8]}", "band": 80, "cup": "C",
                  "colour": "肤色", "price_fen": price_fen + 1000}]})
    assert response.status_code == 201, response.text
    return response.json()


def upload_image(gateway, product_id: str, **form):
    return gateway.post(f"/v1/admin/products/{product_id}/media", headers=OPERATOR,
                        data={"kind": "image", "angle": "front", **form},
                        files={"file": ("front.png", png(), "image/png")})


def test_staff_build_and_publish_then_shoppers_browse(gateway):
    style = category(gateway, "style", "文胸")
    wireless = category(gateway, "function", "无钢圈")
    product = new_product(gateway, style, function_ids=[wireless])
    assert product["status"] == "DRAFT"
    assert product["min_price_fen"] == 19900 and product["max_price_fen"] == 20900
    assert {s["size"] for s in product["skus"]} == {"75B", "80C"}

    # Unpublished: shoppers cannot see it.
    assert gateway.get(f"/v1/products/{product['id']}").status_code == 404
    # Publishing needs an image.
    refused = gateway.post(f"/v1/admin/products/{product['id']}/publish", headers=OPERATOR)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"

    media = upload_image(gateway, product["id"])
    assert media.status_code == 201, media.text
    assert media.json()["kind"] == "IMAGE" and media.json()["width"] == 800
    served = gateway.get(media.json()["hd_url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size[1] <= 1600

    published = gateway.post(f"/v1/admin/products/{product['id']}/publish", headers=OPERATOR)
    assert published.status_code == 200 and published.json()["status"] == "PUBLISHED"

    listing = gateway.get("/v1/products", params={"category": style, "page_size": 20})
    assert listing.status_code == 200
    cards = listing.json()["products"]
    assert [c["id"] for c in cards] == [product["id"]]
    assert cards[0]["min_price_fen"] == 19900 and isinstance(cards[0]["min_price_fen"], int)
    assert cards[0]["cover_url"].startswith("/media/")

    detail = gateway.get(f"/v1/products/{product['id']}")
    assert detail.status_code == 200 and detail.json()["title"] == "云朵无钢圈文胸"
    assert gateway.get("/v1/search", params={"q": "无钢圈"}).json()["products"][0]["id"] == \
        product["id"]
    assert gateway.get("/v1/products", params={"function": wireless}).json()["products"]
    assert gateway.get("/v1/products", params={"min_price_fen": 20000}).json()["products"] == []
    names = {c["name"] for c in gateway.get("/v1/categories").json()["categories"]}
    assert {"文胸", "无钢圈"} <= names

    hidden = gateway.post(f"/v1/admin/products/{product['id']}/unpublish", headers=OPERATOR)
    assert hidden.json()["status"] == "UNPUBLISHED"
    assert gateway.get(f"/v1/products/{product['id']}").status_code == 404


def test_listing_pages_with_tokens_and_sorts(gateway):
    style = category(gateway, "style", "内裤")
    ids = []
    for i in range(3):
        product = new_product(gateway, style, title=f"莫代尔内裤 {i}", price_fen=5900 + i * 100)
        assert upload_image(gateway, product["id"]).status_code == 201
        gateway.post(f"/v1/admin/products/{product['id']}/publish", headers=OPERATOR)
        ids.append(product["id"])
    first = gateway.get("/v1/products", params={"page_size": 2, "sort": "price_asc"}).json()
    assert [c["id"] for c in first["products"]] == ids[:2]
    token_ = first["page"]["next_page_token"]
    second = gateway.get("/v1/products",
                         params={"page_size": 2, "sort": "price_asc", "page_token": token_}).json()
    assert [c["id"] for c in second["products"]] == ids[2:]
    # The token is bound to its filters: reusing it with another sort is refused.
    mismatched = gateway.get("/v1/products", params={"page_size": 2, "sort": "price_desc",
                                                    "page_token": token_})
    assert mismatched.status_code == 400
    assert gateway.get("/v1/products", params={"sort": "cheapest"}).status_code == 400


def test_bad_product_input_names_the_fields(gateway):
    # Caught at the gateway: shapes and signs.
    response = gateway.post("/v1/admin/products", headers=OPERATOR, json={
        "title": "", "category_id": "c", "size_system": "cups",
        "skus": [{"code": "X", "colour": "黑色", "price_fen": 0}]})
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"title", "size_system", "skus[0].price_fen"}
    # Caught by catalog: rules that need its data, surfaced with the same shape.
    response = gateway.post("/v1/admin/products", headers=OPERATOR, json={
        "title": "无名", "category_id": str(uuid.uuid4()), "size_system": "letter",
        "skus": [{"code": "X1", "size": "QQ", "colour": "黑色", "price_fen": 100}]})
    assert response.status_code == 400, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert "category_id" in " ".join(fields)
    assert any("skus[0]" in f for f in fields)


def test_upload_errors_name_the_form_fields(gateway):
    style = category(gateway, "style", "睡衣家居服")
    product = new_product(gateway, style)
    no_angle = gateway.post(f"/v1/admin/products/{product['id']}/media", headers=OPERATOR,
                            data={"kind": "image"}, files={"file": ("a.png", png(), "image/png")})
    assert no_angle.status_code == 400, no_angle.text
    assert "angle" in {e["field"] for e in no_angle.json()["errors"]}
    not_an_image = gateway.post(f"/v1/admin/products/{product['id']}/media", headers=OPERATOR,
                                data={"kind": "image", "angle": "back"},
                                files={"file": ("a.png", b"this is text", "image/png")})
    assert not_an_image.status_code == 400
    assert {e["field"] for e in not_an_image.json()["errors"]} == {"file"}
    missing = gateway.post(f"/v1/admin/products/{uuid.uuid4()}/media", headers=OPERATOR,
                           data={"kind": "image", "angle": "front"},
                           files={"file": ("a.png", png(), "image/png")})
    assert missing.status_code == 404


def test_catalog_admin_needs_operator_or_admin(gateway):
    analyst = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("analyst",)))
    assert gateway.post("/v1/admin/categories", headers=analyst,
                        json={"kind": "style", "name": "x"}).status_code == 403
    assert gateway.get("/v1/admin/products").status_code == 401
    admin = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("admin",)))
    assert gateway.get("/v1/admin/products", headers=admin).status_code == 200


def test_repeated_listings_are_served_from_the_cache(gateway):
    style = category(gateway, "style", "塑身衣")
    product = new_product(gateway, style, title="高腰收腹塑身裤")
    assert upload_image(gateway, product["id"]).status_code == 201
    gateway.post(f"/v1/admin/products/{product['id']}/publish", headers=OPERATOR)
    params = {"category": style, "page_size": 20}
    labels = {"method": "GET", "route": "/v1/products", "status": "200"}
    before = REGISTRY.get_sample_value("mall_gateway_requests_total", labels) or 0
    first = gateway.get("/v1/products", params=params)
    second = gateway.get("/v1/products", params=params)
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert second.content == first.content
    assert second.headers["x-request-id"] and second.headers["content-type"] == "application/json"
    # Hits answered before routing are still counted under the route's template.
    assert REGISTRY.get_sample_value("mall_gateway_requests_total", labels) == before + 2
    # An invalid query is never cached, however often it comes.
    for _ in range(2):
        assert gateway.get("/v1/products", params={"page_size": 0}).status_code == 400


def test_video_upload_streams_file_and_poster(gateway):
    style = category(gateway, "style", "运动内衣")
    product = new_product(gateway, style)
    # Larger than one 1 MiB message, so the stream carries several chunks.
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (2 * 1024 * 1024 + 123)
    video = gateway.post(f"/v1/admin/products/{product['id']}/media", headers=OPERATOR,
                         data={"kind": "video"},
                         files={"file": ("run.mp4", mp4, "video/mp4"),
                                "poster": ("poster.png", png(), "image/png")})
    assert video.status_code == 201, video.text
    body = video.json()
    assert body["kind"] == "VIDEO" and body["content_type"] == "video/mp4"
    assert body["size_bytes"] == len(mp4)
    served = gateway.get(body["url"])
    assert served.status_code == 200 and served.content == mp4
    assert gateway.get(body["poster_url"]).headers["content-type"] == "image/jpeg"

    no_poster = gateway.post(f"/v1/admin/products/{product['id']}/media", headers=OPERATOR,
                             data={"kind": "video"}, files={"file": ("run.mp4", mp4, "video/mp4")})
    assert no_poster.status_code == 400
    assert "poster" in {e["field"] for e in no_poster.json()["errors"]}

    deleted = gateway.delete(f"/v1/admin/media/{body['id']}", headers=OPERATOR)
    assert deleted.status_code == 204
    assert gateway.get(body["url"]).status_code == 404


def test_early_access_staff_routes_and_what_shoppers_see(gateway_with):
    """VIP 优先购: staff set the rule and invite members; a product's detail tells a guest and a
    standard member "coming soon" (open_to_you false), an invited member that she may buy it."""
    from datetime import datetime, timedelta, timezone

    from servicekit.times import rfc3339

    gateway = gateway_with("catalog", "member")
    style = category(gateway, "style", "文胸")
    product = new_product(gateway, style)
    assert upload_image(gateway, product["id"]).status_code == 201
    gateway.post(f"/v1/admin/products/{product['id']}/publish", headers=OPERATOR)
    now = datetime.now(timezone.utc)
    rule = {"min_tier_rank": 2, "tier_name": "金卡", "opens_at": rfc3339(now - timedelta(hours=1)),
            "public_at": rfc3339(now + timedelta(days=3))}
    path = f"/v1/admin/products/{product['id']}/early-access"
    shopper_token = bearer(token(sub=str(uuid.uuid4())))
    assert gateway.put(path, json=rule, headers=shopper_token).status_code == 403
    bad = gateway.put(path, headers=OPERATOR, json={**rule, "min_tier_rank": 0, "tier_name": ""})
    assert bad.status_code == 400 and "min_tier_rank" in bad.text
    late = gateway.put(path, headers=OPERATOR, json={**rule, "public_at": rule["opens_at"]})
    assert late.status_code == 400 and "after_opens_at" in late.text
    set_ = gateway.put(path, headers=OPERATOR, json=rule)
    assert set_.status_code == 200, set_.text
    assert set_.json()["early_access"]["tier_name"] == "金卡"

    (card,) = gateway.get("/v1/products").json()["products"]
    assert card["early_access"]["label"].startswith("金卡及以上会员优先购")
    guest = gateway.get(f"/v1/products/{product['id']}").json()
    assert guest["early_access"]["open_to_you"] is False
    stale = gateway.get(f"/v1/products/{product['id']}", headers=bearer(token(ttl=-10)))
    assert stale.status_code == 200 and stale.json()["early_access"]["open_to_you"] is False

    login = gateway.post("/v1/auth/wechat-login", json={"code": f"gw{uuid.uuid4().hex[:8]}~1"})
    member_id, me = login.json()["member_id"], bearer(login.json()["tokens"]["access_token"])
    standard = gateway.get(f"/v1/products/{product['id']}", headers=me).json()
    assert standard["early_access"]["open_to_you"] is False  # rank 0, below 金卡

    invite = f"/v1/admin/products/{product['id']}/trial-invitations"
    assert gateway.post(invite, headers=OPERATOR, json={"member_ids": []}).status_code == 400
    invited = gateway.post(invite, headers=OPERATOR, json={"member_ids": [member_id]})
    assert invited.status_code == 200 and invited.json()["invited"] == 1
    mine = gateway.get(f"/v1/products/{product['id']}", headers=me).json()["early_access"]
    assert mine["invited"] is True and mine["open_to_you"] is True

    cleared = gateway.delete(path, headers=OPERATOR)
    assert cleared.status_code == 200 and "early_access" not in cleared.json()
