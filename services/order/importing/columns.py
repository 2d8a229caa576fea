"""The mall's import template: its columns (Chinese and English headers), how a file's header row
is matched to them (directly, or through a partner's mapping profile), and the template itself
as CSV or Excel.

One row of a file is one order line; the lines of one order share its external order id and
repeat the order's fields (time, status, customer, address, total).
"""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field

from openpyxl import Workbook


@dataclass(frozen=True)
class Column:
    name: str            # our field name, also the English header
    label: str           # the Chinese header
    required: bool
    order_level: bool    # the same on every line of one order
    example: str
    aliases: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"{self.label} {self.name}"


COLUMNS: tuple[Column, ...] = (
    Column("external_order_id", "外部订单号", True, True, "TB20261122001",
           ("订单号", "平台订单号", "order_id", "external_id")),
    Column("order_time", "下单时间", True, True, "2026-11-22 10:30:00",
           ("订单时间", "创建时间", "order_date", "created_at")),
    Column("status", "订单状态", True, True, "已付款", ("状态", "order_status")),
    Column("recipient", "收货人", True, True, "张三", ("收件人", "姓名", "customer_name", "name")),
    Column("phone", "手机号", True, True, "13800138000", ("手机", "联系电话", "电话", "mobile")),
    Column("province", "省", False, True, "广东省", ("省份",)),
    Column("city", "市", False, True, "深圳市", ("城市",)),
    Column("district", "区", False, True, "南山区", ("区县", "区/县")),
    Column("detail", "详细地址", False, True, "科技园路 1 号", ("街道地址", "address_detail")),
    Column("address", "收货地址", False, True, "",
           ("地址", "完整地址", "full_address")),  # one cell instead of province..detail
    Column("sku_code", "商品编码", True, False, "BRA-75B-BLK",
           ("sku", "商家编码", "货号", "规格编码", "sku_id")),
    Column("quantity", "数量", True, False, "1", ("购买数量", "qty")),
    Column("unit_price", "单价", True, False, "199.00", ("单价(元)", "价格", "price")),
    Column("line_discount", "优惠", False, False, "0", ("优惠金额", "discount")),
    Column("line_total", "小计", False, False, "199.00", ("行金额", "金额", "subtotal")),
    Column("shipping_fee", "运费", False, True, "0", ("邮费", "freight")),
    Column("order_total", "订单总额", False, True, "199.00", ("实付金额", "订单金额", "total")),
    Column("note", "备注", False, True, "", ("买家留言", "remark")),
)
BY_NAME = {c.name: c for c in COLUMNS}
ADDRESS_PARTS = ("province", "city", "detail")  # required unless one `address` cell holds them


def squeeze(text: str) -> str:
    """A header as compared: NFKC (full-width letters and brackets), case and spaces folded."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _known_spellings() -> dict[str, str]:
    spellings: dict[str, str] = {}
    for column in COLUMNS:
        for spelling in (column.name, column.label, column.header, *column.aliases):
            spellings.setdefault(squeeze(spelling), column.name)
    return spellings


KNOWN = _known_spellings()


@dataclass
class HeaderMatch:
    """Which file column (0-based index) feeds which field, and what was left over."""
    fields: dict[str, int]                       # field -> index
    headers: list[str]                           # as written in the file
    unknown: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated

    def header_of(self, name: str) -> str:
        index = self.fields.get(name)
        return self.headers[index] if index is not None else BY_NAME[name].header

    def problem(self) -> str:
        """What is wrong with the header row, in Chinese and English, with what would match."""
        parts = []
        if self.missing:
            wanted = "、".join(BY_NAME[m].header for m in self.missing)
            parts.append(f"缺少必填列 missing required columns: {wanted}")
        if self.duplicated:
            parts.append("重复的列 columns given twice: " + "、".join(self.duplicated))
        found = "、".join(h for h in self.headers if h) or "(空 empty)"
        return ("; ".join(parts) + f". 文件的表头 the file's headers: {found}. 请使用商城模板"
                "(GET .../order-imports/template)的表头,或为您的表头保存映射方案 "
                "(use the mall's template headers, or save a mapping profile for yours)")


def match_headers(headers: list[str], column_map: dict[str, str] | None = None) -> HeaderMatch:
    """Matches a header row; `column_map` (a partner profile's) maps their headers to our field
    names and is tried before the template's own spellings."""
    mapped = {squeeze(theirs): ours for theirs, ours in (column_map or {}).items()}
    result = HeaderMatch(fields={}, headers=[str(h or "").strip() for h in headers])
    for index, header in enumerate(result.headers):
        if not header:
            continue
        key = squeeze(header)
        name = mapped.get(key) or KNOWN.get(key)
        if name is None:
            result.unknown.append(header)
        elif name in result.fields:
            result.duplicated.append(header)
        else:
            result.fields[name] = index
    result.missing = [c.name for c in COLUMNS if c.required and c.name not in result.fields]
    if "address" not in result.fields:
        result.missing += [p for p in ADDRESS_PARTS if p not in result.fields]
    return result


def looks_like_header(cells: list) -> bool:
    """A row naming at least three known columns (a title row above the header is skipped)."""
    return sum(1 for c in cells if c is not None and squeeze(str(c)) in KNOWN) >= 3


def template_csv() -> bytes:
    """The template as CSV: UTF-8 with a BOM (Chinese Excel opens it right), one example line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in COLUMNS])
    writer.writerow([c.example for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("orders")
    sheet.append([c.header for c in COLUMNS])
    sheet.append([c.example for c in COLUMNS])
    notes = book.create_sheet("说明 notes")
    notes.append(["列 column", "必填 required", "说明 notes"])
    for c in COLUMNS:
        notes.append([c.header, "是 yes" if c.required else "否 no", _NOTES.get(c.name, "")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_NOTES = {
    "external_order_id": "同一订单的多行商品使用同一外部订单号 lines of one order share it",
    "order_time": "2026-11-22、2026/11/22 10:30 或 Excel 日期; 北京时间 Beijing time",
    "status": "已付款 paid | 已发货 shipped | 已完成 completed",
    "phone": "大陆手机号, 可带 +86、空格、短横线 mainland mobile",
    "address": "可代替省/市/区/详细地址四列 instead of the four address columns",
    "sku_code": "商城商品编码或 SKU ID, 或映射方案中的合作方编码 our code or a mapped one",
    "quantity": "正整数 positive whole number",
    "unit_price": "元, 最多两位小数 yuan, at most 2 decimals",
    "line_total": "= 单价 × 数量 − 优惠, 误差不超过 0.01 元",
    "order_total": "= 各行小计之和 + 运费, 误差不超过 0.01 元",
}
