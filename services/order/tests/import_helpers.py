"""Files and SKUs for the order-import tests."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from openpyxl import Workbook

from services.order.importing import jobs
from services.order.importing.columns import COLUMNS
from services.order.importing.rows import Sku

HEADER = [c.header for c in COLUMNS]
SKUS = {
    "BRA-75B-BLK": Sku("sku-75b-black", "p-1", "BRA-75B-BLK", "无钢圈聚拢文胸", "75B 黑色",
                       {"size": "75B", "colour": "黑色"}, "", ("c-bra", "c-top")),
    "BRF-M-NUDE": Sku("sku-brief-m", "p-2", "BRF-M-NUDE", "无痕内裤", "M 肤色", {"size": "M"}, "",
                      ("c-brief",)),
}


def find_sku(code: str):
    return SKUS.get(code) or next((s for s in SKUS.values() if s.sku_id == code), None)


def line(external_id="EXT-1", *, time="2026-11-22 10:30:00", status="已付款", name="张三",
         phone="13800138000", province="广东省", city="深圳市", district="南山区",
         detail="科技园路 1 号", address="", sku="BRA-75B-BLK", qty="1", price="199.00",
         discount="", total="", fee="", order_total="", note="") -> dict:
    return {"external_order_id": external_id, "order_time": time, "status": status,
            "recipient": name, "phone": phone, "province": province, "city": city,
            "district": district, "detail": detail, "address": address, "sku_code": sku,
            "quantity": qty, "unit_price": price, "line_discount": discount, "line_total": total,
            "shipping_fee": fee, "order_total": order_total, "note": note}


def cells(values: dict, header=None) -> list:
    return [values.get(c.name, "") for c in COLUMNS] if header is None else \
        [values.get(h, "") for h in header]


def csv_bytes(lines: list[dict], encoding="utf-8", header=HEADER, bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for values in lines:
        writer.writerow(cells(values))
    return (("\ufeff" if bom else "") + out.getvalue()).encode(encoding)


def xlsx_bytes(rows: list[list], header=HEADER) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("orders")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def seed_skus(runtime) -> None:
    """The two SKUs of SKUS in order's local copy of the catalog, on sale."""
    from services.order.models import ProductSku

    now = datetime.now(timezone.utc)
    with runtime.transaction() as session:
        for sku_id, code, price in (("sku-75b-black", "BRA-75B-BLK", 19900),
                                    ("sku-brief-m", "BRF-M-NUDE", 9900)):
            session.add(ProductSku(sku_id=sku_id, product_id="p-" + sku_id, title="无钢圈文胸",
                                   attributes={"size": "75B"}, price_fen=price, published=True,
                                   code=code, category_ids=["c-bra"], product_version=1,
                                   updated_at=now))


def accepted(runtime, data: bytes, name: str = "orders.csv"):
    """(the job, its spooled file) for `data` uploaded by staff for partner acme, import_valid."""
    spooled, size, digest = jobs.spool([data])
    job, _ = jobs.accept(runtime, jobs.Request(partner="acme", caller="staff:1", filename=name,
                                               error_policy="import_valid"), spooled, size, digest)
    return job, spooled
