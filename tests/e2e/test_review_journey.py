"""Reviews end to end on the real suite: a shopper pays, the carrier stand-in delivers, the line
appears among what she can review (support heard order.paid and shipment.delivered); she reviews
it with a photo and how the size fitted; bad input is refused naming the field; catalog's
listing (sort by rating) and detail show the product's stars and fit (review.summary_changed);
the merchant replies, her export holds the review, staff hide it (the rating goes with it), and
her erasure deletes it."""
from __future__ import annotations

import uuid

import pytest

from .shop import ok, pay_with_wechat, png_bytes, stocked_product, unique_word, wait_until_delivered

pytestmark = pytest.mark.e2e


def test_a_delivered_line_is_reviewed_with_a_photo_and_the_rating_reaches_the_catalog(
        mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, _ = stocked_product(mall, admin, f"云朵无钢圈文胸 {word}", 3)
        product_id, sku = product["id"], product["skus"][0]
        login = ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}~1"}))
    token = login["tokens"]["access_token"]

    with mall.client(token) as shopper:
        order = ok(shopper.post("/v1/orders", json={
            "lines": [{"sku_id": sku["id"], "quantity": 1}],
            "shipping_address": {"recipient": "周女士", "phone": "13700000000",
                                 "province": "浙江省", "city": "杭州市", "district": "西湖区",
                                 "detail": "文三路 1 号"}},
            headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
        assert not ok(shopper.get("/v1/me/reviewable")).get("lines")  # nothing delivered yet
        pay_with_wechat(mall, shopper, order)
        wait_until_delivered(mall, shopper, order["order_id"])

        def reviewable():
            return ok(shopper.get("/v1/me/reviewable")).get("lines")
        (line,) = mall.wait_until(reviewable, timeout=30, what="support hearing the delivery")
        assert (line["order_id"], line["product_id"]) == (order["order_id"], product_id)

        form = {"order_id": order["order_id"], "line_id": line["line_id"], "stars": "4",
                "text": "很舒服，偏小半码", "fit": "runs_small", "usual_size": "75B"}
        refused = shopper.post("/v1/me/reviews", data={**form, "stars": "0"})
        assert refused.status_code == 400 and "stars" in refused.json()["errors"][0]["field"]
        refused = shopper.post("/v1/me/reviews", data=form,
                               files=[("photos", ("a.png", b"\x89PNG not really", "image/png"))])
        assert refused.status_code == 400
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("photos[0]", "image")]
        review = ok(shopper.post("/v1/me/reviews", data=form,
                                 files=[("photos", ("a.png", png_bytes(), "image/png"))]), 201)
        assert (review["stars"], review["fit"], review["size"]) == (4, "RUNS_SMALL", line["size"])
        assert shopper.get(review["photos"][0]["thumbnail_url"]).status_code == 200
        again = shopper.post("/v1/me/reviews", data=form)
        assert again.status_code == 409
        assert not ok(shopper.get("/v1/me/reviewable")).get("lines")

    with mall.client() as anyone:
        listed = ok(anyone.get(f"/v1/products/{product_id}/reviews"))
        assert [r["id"] for r in listed["reviews"]] == [review["id"]]
        assert (listed["summary"]["review_count"], listed["summary"]["average_rating"]) == (1, 4.0)

        def rated():
            detail = ok(anyone.get(f"/v1/products/{product_id}"))
            return detail if detail.get("review_count") == 1 else None
        detail = mall.wait_until(rated, timeout=30, what="catalog hearing review.summary_changed")
        assert detail["rating"] == 4.0 and detail["fit"]["runs_small"] == 1
        assert detail["fit"]["sizes"][0]["review_count"] == 1

        def card():
            cards = ok(anyone.get("/v1/products", params={"query": word, "sort": "rating"}))
            return [c for c in cards.get("products", []) if c.get("review_count") == 1]
        (shown,) = mall.wait_until(card, timeout=30, what="the rating on the listing's card")
        assert shown["rating"] == 4.0

    with mall.client(admin_token) as admin:
        replied = ok(admin.put(f"/v1/admin/reviews/{review['id']}/reply",
                               json={"text": "谢谢亲，建议拍大半码"}))
        assert replied["reply"]["text"] == "谢谢亲，建议拍大半码"

    with mall.client(token) as shopper:
        exported = ok(shopper.get("/v1/me/export"))
        assert [r["id"] for r in exported["support"]["reviews"]] == [review["id"]]

    with mall.client(admin_token) as admin:
        hidden = ok(admin.post(f"/v1/admin/reviews/{review['id']}/hide",
                               json={"reason": "图片与商品无关"}))
        assert (hidden["hidden"], hidden["text"]) == (True, "很舒服，偏小半码")

    with mall.client() as anyone:
        assert not ok(anyone.get(f"/v1/products/{product_id}/reviews")).get("reviews")
        mall.wait_until(lambda: not ok(anyone.get(f"/v1/products/{product_id}")).get("review_count"),
                        timeout=30, what="catalog dropping the hidden review's rating")

    with mall.client(token) as shopper:
        ok(shopper.delete("/v1/me", params={"confirm": "true"}))
    with mall.client(admin_token) as admin:
        mall.wait_until(lambda: not ok(admin.get("/v1/admin/reviews", params={
            "product_id": product_id})).get("reviews"), timeout=30,
            what="support erasing her review")
    assert mall.dead_letters("support") == [] and mall.dead_letters("catalog") == []
