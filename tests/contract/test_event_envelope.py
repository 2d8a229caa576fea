"""The envelope catalog's relay puts on RabbitMQ for product.published, as every consumer
(order's cart, analytics, the gateway's cache) reads it."""
from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from google.protobuf import json_format
from mall.catalog.v1 import catalog_pb2 as pb
from mall.events.v1 import catalog_events_pb2 as ev
from PIL import Image

from servicekit.events import Event
from services.catalog import categories, media, products
from services.catalog.storage import default_storage


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 800), (250, 200, 210)).save(out, "PNG")
    return out.getvalue()


def publish_a_bra(rt) -> str:
    with rt.transaction() as s:
        style = categories.create_category(s, pb.CategoryInput(kind=pb.STYLE, name="文胸")).id
        wireless = categories.create_category(s, pb.CategoryInput(kind=pb.FUNCTION,
                                                                  name="无钢圈")).id
        product_id = products.create_product(rt, s, pb.ProductInput(
            title="无钢圈蕾丝文胸", category_id=style, function_ids=[wireless], size_system=pb.BRA),
            [pb.SkuInput(code="ENV-75B", band=75, cup="B", colour="黑色", price_fen=15900,
                         barcode="6901234567890"),
             pb.SkuInput(code="ENV-80C", band=80, cup="C", colour="黑色", price_fen=16900)]).id
    raw = png()
    media.upload(rt, default_storage(), product_id=product_id, kind="image", angle="front",
                 position=0, data=io.BytesIO(raw), data_size=len(raw), poster=b"")
    with rt.transaction() as s:
        products.publish(rt, s, product_id)
    return product_id


def test_product_published_envelope(runtime_for, relay_for, listen_for):
    rt = runtime_for("catalog")
    published = listen_for("catalog", "product.published")
    product_id = publish_a_bra(rt)
    relay_for("catalog")
    method, properties, _, body = published.next()

    assert method.exchange == "catalog.events" and method.routing_key == "product.published"
    assert properties.content_type == "application/json" and properties.delivery_mode == 2
    envelope = json.loads(body)
    assert set(envelope) == {"id", "type", "source", "occurred_at", "data"}
    assert properties.message_id == envelope["id"]
    assert (envelope["type"], envelope["source"]) == ("product.published", "catalog")
    assert datetime.fromisoformat(envelope["occurred_at"]).utcoffset().total_seconds() == 0

    message = json_format.ParseDict(envelope["data"], ev.ProductPublished())
    product = message.product
    assert product.product_id == product_id and product.status == "published"
    assert product.min_price_fen == 15900 and product.max_price_fen == 16900
    assert [(s.code, s.size, s.band, s.cup, s.price_fen) for s in product.skus] == [
        ("ENV-75B", "75B", 75, "B", 15900), ("ENV-80C", "80C", 80, "C", 16900)]
    assert product.skus[0].barcode == "6901234567890" and product.skus[0].sku_id
    assert product.cover_image_url.startswith("/media/") and product.cover_thumbnail_url
    assert len(product.category_ids) == 1 and len(product.facet_ids) == 1
    # money travels as proto3 JSON int64: a string of fen, never a float
    assert envelope["data"]["product"]["minPriceFen"] == "15900"


def test_a_consumer_ignores_fields_it_does_not_know(runtime_for, relay_for, listen_for):
    rt = runtime_for("catalog")
    published = listen_for("catalog", "product.published")
    publish_a_bra(rt)
    relay_for("catalog")
    body = published.next().body
    envelope = json.loads(body)
    envelope["data"]["product"]["fabricGrade"] = "A"           # a newer producer's field
    envelope["data"]["campaign"] = {"id": "c-1"}
    envelope["traceHint"] = "x"                                 # and an extra envelope key
    event = Event.parse(json.dumps(envelope), ev.ProductPublished)
    assert event.type == "product.published" and event.data.product.title == "无钢圈蕾丝文胸"
    with pytest.raises(json_format.ParseError):  # what ignoring protects against
        json_format.ParseDict(envelope["data"], ev.ProductPublished())
