"""An admin signs in, creates and publishes a product; shoppers find it; analytics counts it."""
from __future__ import annotations

import pytest

from .shop import event_count, ok, product_ids, published_product, unique_word

pytestmark = pytest.mark.e2e


def test_a_published_product_reaches_shoppers_search_and_analytics(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as shopper:
        published_before = event_count(admin, "product.published")

        product = published_product(admin, f"云朵无钢圈文胸 {word}")

        mall.wait_until(lambda: product["id"] in product_ids(
            shopper.get("/v1/products", params={"page_size": 100})),
            what="the product in the shoppers' listing")
        mall.wait_until(lambda: product["id"] in product_ids(
            shopper.get("/v1/search", params={"q": word})), what="the product found by its word")
        mall.wait_until(lambda: product["id"] in product_ids(
            shopper.get("/v1/search", params={"q": "无钢圈", "page_size": 100})),
            what="the product found by a Chinese word of its title")
        detail = ok(shopper.get(f"/v1/products/{product['id']}"))
        assert detail["status"] == "PUBLISHED"
        assert sorted(s["price_fen"] for s in detail["skus"]) == [19900, 21900]

        mall.wait_until(lambda: event_count(admin, "product.published") == published_before + 1,
                        what="analytics counting product.published once")


def test_a_draft_stays_hidden_from_shoppers(mall, admin_token):
    from .shop import create_product, create_style_category

    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as shopper:
        draft = create_product(admin, create_style_category(admin), f"蕾丝三角裤 {word}")
        assert shopper.get(f"/v1/products/{draft['id']}").status_code == 404
        assert draft["id"] not in product_ids(shopper.get("/v1/search", params={"q": word}))


def test_the_admin_console_needs_a_staff_token(mall):
    with mall.client() as anonymous:
        reply = anonymous.post("/v1/admin/products", json={})
        assert reply.status_code == 401
        assert reply.headers["content-type"].startswith("application/problem+json")
