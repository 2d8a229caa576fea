"""Builders shared by the catalog tests: a small shop of facets, product inputs, image bytes."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

from mall.catalog.v1 import catalog_pb2 as pb
from PIL import Image
from sqlalchemy import select

from services.catalog import categories, media, products
from services.catalog.models import Product

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def png(width=800, height=1000, colour=(220, 160, 170), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg(width=2400, height=3000) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Shop:
    bras: str
    wireless_bras: str
    panties: str
    sleepwear: str
    wireless: str
    push_up: str
    nursing: str
    brand_a: str
    brand_b: str


def category(session, kind, name, parent_id="", sort_order=0, active=None) -> str:
    data = pb.CategoryInput(kind=kind, name=name, parent_id=parent_id, sort_order=sort_order)
    if active is not None:
        data.active = active
    return categories.create_category(session, data).id


def make_shop(rt) -> Shop:
    with rt.transaction() as s:
        bras = category(s, pb.STYLE, "文胸", sort_order=1)
        return Shop(
            bras=bras, wireless_bras=category(s, pb.STYLE, "无钢圈文胸", bras),
            panties=category(s, pb.STYLE, "内裤", sort_order=2),
            sleepwear=category(s, pb.STYLE, "睡衣家居服", sort_order=3),
            wireless=category(s, pb.FUNCTION, "无钢圈"), push_up=category(s, pb.FUNCTION, "聚拢"),
            nursing=category(s, pb.FUNCTION, "哺乳"),
            brand_a=category(s, pb.BRAND, "云裳"), brand_b=category(s, pb.BRAND, "初恋"))


def bra_input(shop: Shop, title="法式蕾丝无钢圈文胸", **overrides) -> pb.ProductInput:
    fields = dict(title=title, subtitle="软支撑 舒适透气",
                  description=pb.ProductDescription(material="锦纶 蕾丝", composition="锦纶82% 氨纶18%",
                                                    care="30℃以下手洗", origin="中国广东"),
                  category_id=shop.wireless_bras, function_ids=[shop.wireless],
                  brand_id=shop.brand_a, size_system=pb.BRA,
                  size_chart=pb.SizeChart(columns=["下胸围(cm)", "上胸围(cm)"], rows=[
                      pb.SizeChartRow(size="75B", values=["73-77", "88-90"])]))
    fields.update(overrides)
    return pb.ProductInput(**fields)


def letter_input(shop: Shop, title="莫代尔高腰内裤", **overrides) -> pb.ProductInput:
    fields = dict(title=title, subtitle="亲肤透气", category_id=shop.panties, brand_id=shop.brand_b,
                  description=pb.ProductDescription(material="莫代尔", composition="莫代尔95% 氨纶5%"),
                  size_system=pb.LETTER)
    fields.update(overrides)
    return pb.ProductInput(**fields)


def bra_skus(prefix="BRA", price=19900, colours=("黑色", "肤色"), bands=(75, 80), cups=("B", "C")):
    return [pb.SkuInput(code=f"{prefix}-{b}{c}-{i}", band=b, cup=c, colour=colour,
                        price_fen=price + 1000 * i)
            for i, colour in enumerate(colours) for b in bands for c in cups]


def letter_skus(prefix="PNT", price=5900, colours=("白色",), sizes=("S", "M", "L")):
    return [pb.SkuInput(code=f"{prefix}-{size}-{i}", size=size, colour=colour, price_fen=price)
            for i, colour in enumerate(colours) for size in sizes]


def create(rt, data, skus=()) -> str:
    with rt.transaction() as s:
        return products.create_product(rt, s, data, list(skus)).id


def add_image(rt, storage, product_id, angle="front", data=None) -> str:
    raw = data or png()
    return media.upload(rt, storage, product_id=product_id, kind="image", angle=angle, position=0,
                        data=io.BytesIO(raw), data_size=len(raw), poster=b"").id


def published(rt, storage, data, skus) -> str:
    product_id = create(rt, data, skus)
    add_image(rt, storage, product_id)
    with rt.transaction() as s:
        products.publish(rt, s, product_id)
    return product_id


def outbox(rt, event_type=None) -> list[dict]:
    table = rt.outbox_table
    query = select(table.c.body).order_by(table.c.id)
    if event_type:
        query = query.where(table.c.event_type == event_type)
    with rt.engine.connect() as conn:
        return [json.loads(b) for b in conn.execute(query).scalars()]


def count(rt, model) -> int:
    from sqlalchemy import func
    with rt.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar()


def product(rt, product_id) -> Product:
    with rt.transaction() as s:
        return s.get(Product, product_id)
