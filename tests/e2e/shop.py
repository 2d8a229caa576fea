"""What the e2e journeys do through the gateway, as an admin and as a shopper."""
from __future__ import annotations

import io
import secrets
import uuid

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
    receive(admin, code, sku_id, quantity)
    return product, code


def receive(admin: httpx.Client, warehouse_code: str, sku_id: str, quantity: int) -> None:
    ok(admin.post("/v1/admin/logistics/stock/receipts", json={
        "warehouse_code": warehouse_code, "sku_id": sku_id, "quantity": quantity,
        "reason": "e2e"}), 201)


# --- shopping through the gateway: shared by the order and payment journeys -----------------

ADDRESS = {"recipient": "周女士", "phone": "13700000000", "province": "浙江省", "city": "杭州市",
           "district": "西湖区", "detail": "文三路 1 号"}


def stocked_sku(mall, admin: httpx.Client, word: str, quantity: int) -> str:
    product, _ = stocked_product(mall, admin, f"蕾丝无痕文胸 {word}", quantity)
    return product["skus"][0]["id"]


def stocked_pair(mall, admin: httpx.Client, word: str, quantity: int) -> tuple[dict, dict]:
    """Both SKUs of one product (¥199 and ¥219), `quantity` units of each in one warehouse."""
    product, code = stocked_product(mall, admin, f"蕾丝无痕文胸 {word}", quantity)
    first, second = product["skus"]
    receive(admin, code, second["id"], quantity)
    return first, second


def stock_row(admin: httpx.Client, sku_id: str) -> tuple[int, int]:
    """(on hand, reserved) of a SKU stocked in one warehouse."""
    stock = ok(admin.get("/v1/admin/logistics/stock", params={"sku_id": sku_id}))
    (row,) = stock["skus"][0]["warehouses"]
    return row["on_hand"], row["reserved"]


def sign_in(http: httpx.Client, word: str) -> tuple[str, str]:
    """(member id, access token) of the shopper the WeChat stand-in knows as `word`."""
    login = ok(http.post("/v1/auth/wechat-login", json={"code": f"{word}~1"}))
    return login["member_id"], login["tokens"]["access_token"]


def place_order(shopper: httpx.Client, lines: list[tuple[str, int]], **checkout) -> dict:
    """Places an order for (sku id, quantity) lines; `checkout`: coupon_ids, points_to_use ..."""
    body = {"lines": [{"sku_id": s, "quantity": q} for s, q in lines], "shipping_address": ADDRESS,
            **checkout}
    order = ok(shopper.post("/v1/orders", json=body,
                            headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
    assert order["status"] == "pending_payment", order
    return order


def status_of(shopper: httpx.Client, order_id: str) -> str:
    return ok(shopper.get(f"/v1/orders/{order_id}"))["status"]


def pay_with_wechat(mall, shopper: httpx.Client, order: dict) -> dict:
    """The shopper pays at the WeChat Pay stand-in, which sends the signed notification; returns
    the payment intent once the order left pending_payment (as paid, not cancelled)."""
    paying = ok(shopper.post(f"/v1/orders/{order['order_id']}/payments",
                             json={"method": "wechat_jsapi", "payer_openid": f"openid-{order['member_id']}"},
                             headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
    assert int(paying["intent"]["amount_fen"]) == order["payable_fen"]
    standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
    ok(httpx.post(f"{standin}/standin/pay",
                  json={"out_trade_no": paying["intent"]["out_trade_no"]}, timeout=10))
    wait_until_paid(mall, shopper, order["order_id"])
    return paying["intent"]


PAID_OR_LATER = ("paid", "partly_shipped", "shipped", "delivered")


def wait_until_paid(mall, shopper: httpx.Client, order_id: str) -> str:
    def left_pending():
        status = status_of(shopper, order_id)
        return status if status != "pending_payment" else None
    paid = mall.wait_until(left_pending, timeout=30,
                           what="the signed notification marking the order paid")
    assert paid in PAID_OR_LATER, paid  # not cancelled
    return paid


def wait_until_delivered(mall, shopper: httpx.Client, order_id: str) -> None:
    """Logistics ships the paid order and the carrier stand-in walks the parcel to the door."""
    mall.wait_until(lambda: status_of(shopper, order_id) == "delivered", timeout=90,
                    what="the carrier stand-in delivering and the order following")
