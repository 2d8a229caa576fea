"""What the e2e journeys do through the gateway, as an admin and as a shopper."""
from __future__ import annotations

import io
import secrets

import httpx
from PIL import Image


def ok(reply: httpx.Response, status: int = 200) -> dict:
    assert reply.status_code == status, f"{reply.request.method} {reply.request.url}: " \
                                        f"{reply.status_code} {reply.text}"
    return reply.json() if reply.content else {}


def unique_word() -> str:
    """One search term no other product holds (letters only: jieba keeps it whole)."""
    return "e2e" + "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(10))


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (230, 190, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def create_style_category(admin: httpx.Client) -> str:
    reply = admin.post("/v1/admin/categories",
                       json={"kind": "STYLE", "name": f"文胸 {secrets.token_hex(3)}"})
    return ok(reply, 201)["id"]


def create_product(admin: httpx.Client, category_id: str, title: str) -> dict:
    body = {
        "title": title,
        "subtitle": "轻薄透气 莫代尔",
        "category_id": category_id,
        "size_system": "BRA",
        "skus": [
            {"code": f"E2E-{secrets.token_hex(4)}", "band": 75, "cup": "B", "colour": "黑色",
             "price_fen": 19900},
            {"code": f"E2E-{secrets.token_hex(4)}", "band": 80, "cup": "C", "colour": "肤色",
             "price_fen": 21900},
        ],
    }
    return ok(admin.post("/v1/admin/products", json=body), 201)


def upload_front_image(admin: httpx.Client, product_id: str) -> dict:
    reply = admin.post(f"/v1/admin/products/{product_id}/media",
                       data={"kind": "IMAGE", "angle": "FRONT"},
                       files={"file": ("front.png", png_bytes(), "image/png")})
    return ok(reply, 201)


def publish(admin: httpx.Client, product_id: str) -> dict:
    return ok(admin.post(f"/v1/admin/products/{product_id}/publish"))


def published_product(admin: httpx.Client, title: str) -> dict:
    """A product with SKUs and an image, published: what a shopper can find."""
    product = create_product(admin, create_style_category(admin), title)
    upload_front_image(admin, product["id"])
    publish(admin, product["id"])
    return product


def event_count(admin: httpx.Client, event_type: str) -> int:
    counts = ok(admin.get("/v1/admin/analytics/event-counts"))["counts"]
    return sum(int(c["count"]) for c in counts if c["type"] == event_type)


def product_ids(reply: httpx.Response) -> list[str]:
    return [p["id"] for p in ok(reply)["products"]]


def stocked_product(mall, admin: httpx.Client, title: str, quantity: int) -> tuple[dict, str]:
    """A published product whose first SKU has `quantity` units in a fresh Hangzhou warehouse
    (returned with the warehouse's code)."""
    product = published_product(admin, title)
    sku_id = product["skus"][0]["id"]
    code = f"HZ-{secrets.token_hex(3).upper()}"
    ok(admin.post("/v1/admin/logistics/warehouses", json={
        "code": code, "name": "杭州仓", "province": "浙江省", "city": "杭州市",
        "latitude": 30.27, "longitude": 120.16, "carriers": ["zto", "sf"]}), 201)
    # logistics learns the SKU from catalog's product.published event
    mall.wait_until(lambda: admin.get("/v1/admin/logistics/stock",
                                      params={"sku_id": sku_id}).status_code == 200,
                    what="logistics knowing the published SKU")
    ok(admin.post("/v1/admin/logistics/stock/receipts", json={
        "warehouse_code": code, "sku_id": sku_id, "quantity": quantity, "reason": "e2e"}), 201)
    return product, code
