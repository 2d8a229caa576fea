"""Checking every row of an import file, and the lines of one order together.

`parse_row` turns one row's cells into a `ParsedRow` (values cleaned: full-width digits, stray
spaces, +86 phones, yuan to fen, dates to UTC) and a list of `RowError`s, each naming the column
as the file wrote it, the value, the rule and what to write instead, in Chinese. `Tally` groups
rows by external order id and checks what only the whole order can show (its lines agree on the
order's fields, the total adds up, a SKU given twice). Nothing here touches a database: SKUs come
through a lookup function, so the rules are tested on their own.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable

from servicekit.addresses import ADDRESS_LIMITS, MOBILE, normalise_mobile
from servicekit.times import SHANGHAI

from .columns import BY_NAME, HeaderMatch

TOLERANCE_FEN = 1  # ¥0.01
MAX_QUANTITY = 9999
EXCEL_EPOCH = datetime(1899, 12, 30)
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
STATUSES = {  # spelling (squeezed) -> our status
    "paid": "paid", "已付款": "paid", "已支付": "paid", "待发货": "paid", "买家已付款": "paid",
    "shipped": "shipped", "已发货": "shipped", "卖家已发货": "shipped", "待收货": "shipped",
    "completed": "completed", "已完成": "completed", "交易成功": "completed",
    "已签收": "completed", "交易完成": "completed",
}
_MONEY_NOISE = re.compile(r"[¥￥元,\s]|rmb|cny", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
                   r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_EXCEL_SERIAL = re.compile(r"\d{5}(\.\d+)?")
_QUANTITY = re.compile(r"[+-]?\d+(\.0+)?")
_ADDRESS = re.compile(
    r"^(?P<province>北京市?|天津市?|上海市?|重庆市?|.+?(?:省|自治区|特别行政区))"
    r"(?P<city>.+?(?:市|自治州|地区|盟))?(?P<district>.+?(?:区|县|市|旗))?(?P<detail>.+)$")


@dataclass(frozen=True)
class RowError:
    column: str   # the header as the file wrote it (or the template's, for a missing column)
    value: str
    rule: str     # required | integer | positive | money | non_negative | date | mobile | ...
    message: str  # what is wrong and what to write instead, in Chinese


@dataclass(frozen=True)
class Sku:
    sku_id: str
    product_id: str
    code: str
    title: str
    label: str
    attributes: dict
    image_url: str
    category_ids: tuple[str, ...]


@dataclass(frozen=True)
class OrderFields:
    """What every line of one order repeats (compared across its lines)."""
    order_time: datetime | None
    status: str
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    shipping_fee_fen: int
    order_total_fen: int | None
    note: str


@dataclass(frozen=True, slots=True)
class Line:
    """What an order line needs from its row once the row is checked (kept for every good row
    between the two passes over a file, so it is small: no cells, no order fields)."""
    row_no: int
    sku: Sku
    quantity: int
    unit_price_fen: int
    discount_fen: int
    line_total_fen: int


@dataclass
class ParsedRow:
    row_no: int
    external_id: str
    order: OrderFields
    sku: Sku | None
    quantity: int
    unit_price_fen: int
    discount_fen: int
    line_total_fen: int
    errors: list[RowError] = field(default_factory=list)


def text(value) -> str:
    """A cell as clean text: NFKC (full-width digits and letters), outer spaces gone."""
    if value.__class__ is str:
        # isascii() is a flag lookup: ASCII is its own NFKC, so most cells skip normalize
        return value.strip() if value.isascii() else unicodedata.normalize("NFKC", value).strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


class RowChecker:
    """Parses rows of one file (its header match, SKU lookup and the profile's maps)."""

    def __init__(self, header: HeaderMatch, find_sku: Callable[[str], Sku | None], *,
                 sku_map: dict[str, str] | None = None, status_map: dict[str, str] | None = None,
                 now: datetime | None = None):
        self.header = header
        self.find_sku = find_sku
        self.sku_map = {text(k): text(v) for k, v in (sku_map or {}).items()}
        self.statuses = dict(STATUSES)
        self.statuses.update({"".join(text(k).lower().split()): v
                              for k, v in (status_map or {}).items()})
        self.latest = (now or datetime.now(timezone.utc)) + timedelta(days=1)

    def cells_by_name(self, cells: list) -> dict:
        """field -> its cell as the file holds it (absent columns and short rows left out)."""
        count = len(cells)
        return {name: cells[i] for name, i in self.header.fields.items() if i < count}

    def parse_id(self, cells: list) -> str:
        """The row's external order id alone (cheap: for rows whose fate is already known)."""
        index = self.header.fields.get("external_order_id")
        return text(cells[index] if index is not None and index < len(cells) else None)[:64]

    def parse(self, row_no: int, cells: list) -> ParsedRow:
        errors: list[RowError] = []
        col = self.header.header_of
        raw = self.cells_by_name(cells)
        # Each cell cleaned once (text() was called some twenty times a row); `raw` keeps what
        # the file wrote, for the messages and for Excel's typed cells (dates, floats).
        clean = {name: text(value) for name, value in raw.items()}
        get = clean.get

        def fail(name: str, value, rule: str, message: str) -> None:
            errors.append(RowError(col(name), "" if value is None else str(value), rule, message))

        def required(name: str) -> str:
            value = get(name, "")
            if not value:
                fail(name, "", "required", f"{BY_NAME[name].label} 不能为空,请填写,如 "
                                           f"{BY_NAME[name].example}")
            return value

        external_id = required("external_order_id")
        if len(external_id) > 64:
            fail("external_order_id", external_id, "max_length", "外部订单号最多 64 个字符")
        order_time = self._time(raw.get("order_time"), get("order_time", ""), fail)
        status = self._status(raw.get("status"), get("status", ""), fail)
        recipient = required("recipient")
        phone_raw, phone_text = raw.get("phone"), get("phone", "")
        phone = normalise_mobile(phone_text)
        if not phone_text:
            fail("phone", "", "required", "手机号不能为空,请填写,如 13800138000")
        elif not MOBILE.match(phone):
            fail("phone", phone_raw, "mobile", f"手机号 \"{phone_text}\" 不是有效的大陆手机号,"
                                               "请填写 11 位数字,如 13800138000(可带 +86、空格或短横线)")
        province, city, district, detail = self._address(get, fail)
        for name, value in (("recipient", recipient), ("province", province), ("city", city),
                            ("district", district), ("detail", detail)):
            if len(value) > ADDRESS_LIMITS[name]:
                fail(name, value, "max_length", f"{BY_NAME[name].label}最多 "
                                                f"{ADDRESS_LIMITS[name]} 个字")
        sku = self._sku(raw.get("sku_code"), get("sku_code", ""), fail)
        quantity = self._quantity(raw.get("quantity"), get("quantity", ""), fail)

        def money(name: str, required: bool = False) -> int | None:
            return self._money(name, raw.get(name), get(name, ""), fail, required)

        unit = money("unit_price", required=True)
        discount = money("line_discount") or 0
        line_total = money("line_total")
        expected = (unit or 0) * quantity - discount
        if unit is not None and quantity and line_total is not None \
                and abs(line_total - expected) > TOLERANCE_FEN:
            fail("line_total", raw.get("line_total"), "line_total",
                 f"小计 {yuan(line_total)} 与 单价 × 数量 − 优惠 = {yuan(expected)} 不符,"
                 f"请填写 {yuan(expected)} 或改正单价、数量")
        if line_total is None:
            line_total = max(expected, 0)
        if expected < 0 and unit is not None and quantity:
            fail("line_discount", raw.get("line_discount"), "discount",
                 f"优惠 {yuan(discount)} 超过了 单价 × 数量 {yuan((unit or 0) * quantity)}")
        shipping = money("shipping_fee") or 0
        order_total = money("order_total")
        note = get("note", "")[:200]
        return ParsedRow(row_no, external_id,
                         OrderFields(order_time, status, recipient, phone, province, city,
                                     district, detail, shipping, order_total, note),
                         sku, quantity, unit or 0, discount, line_total, errors)

    def _time(self, raw, value: str, fail) -> datetime | None:
        hint = "请填写如 2026-11-22 10:30、2026/11/22 或 Excel 日期"
        if isinstance(raw, datetime):
            moment = raw if raw.tzinfo else raw.replace(tzinfo=SHANGHAI)
        elif isinstance(raw, (int, float)) or _EXCEL_SERIAL.fullmatch(value):
            serial = float(value)
            if not 20000 < serial < 80000:
                fail("order_time", raw, "date", f"下单时间 \"{value}\" 不是有效的 Excel 日期,{hint}")
                return None
            moment = (EXCEL_EPOCH + timedelta(days=serial)).replace(tzinfo=SHANGHAI)
        else:
            if not value:
                fail("order_time", "", "required", f"下单时间不能为空,{hint}")
                return None
            match = _DATE.match(value)
            if not match:
                fail("order_time", raw, "date", f"下单时间 \"{value}\" 无法识别,{hint}")
                return None
            y, mo, d, h, mi, s, zone = match.groups()
            try:
                moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
            except ValueError:
                fail("order_time", raw, "date", f"下单时间 \"{value}\" 不是存在的日期,{hint}")
                return None
            if zone:
                moment = datetime.fromisoformat(moment.isoformat() + ("+00:00" if zone == "Z"
                                                                      else zone))
            else:
                moment = moment.replace(tzinfo=SHANGHAI)
        moment = moment.astimezone(timezone.utc)
        if not EARLIEST <= moment <= self.latest:
            fail("order_time", raw, "date_range", f"下单时间 \"{value}\" 不在 2000 年至今的范围内,"
                                                  "请检查年份")
            return None
        return moment

    def _status(self, raw, value: str, fail) -> str:
        key = "".join(value.lower().split())
        if not key:
            fail("status", "", "required", "订单状态不能为空,请填写 已付款、已发货 或 已完成")
            return ""
        status = self.statuses.get(key)
        if status is None:
            fail("status", raw, "status", f"订单状态 \"{value}\" 无法识别,请填写 已付款(paid)、"
                                          "已发货(shipped) 或 已完成(completed),或在映射方案中添加")
            return ""
        return status

    def _address(self, get, fail) -> tuple[str, str, str, str]:
        """`get`: field -> clean text. Four columns, or one whole address split here."""
        parts = [get(n, "") for n in ("province", "city", "district", "detail")]
        whole = get("address", "")
        if not any(parts) and whole:
            match = _ADDRESS.match("".join(whole.split()))
            if not match or not match["city"] and not match["province"].startswith(
                    ("北京", "天津", "上海", "重庆")):
                fail("address", whole, "address_split",
                     f"收货地址 \"{whole}\" 无法拆分为省、市、区,请分别填写 省、市、区、详细地址 四列,"
                     "或写成 广东省深圳市南山区科技园路1号 的格式")
                return "", "", "", ""
            province = match["province"]
            city = match["city"] or (province if province.endswith("市") else province + "市")
            return province, city, match["district"] or "", match["detail"]
        for name, value in zip(("province", "city", "detail"), (parts[0], parts[1], parts[3]), strict=True):
            if not value:
                fail(name, "", "required", f"{BY_NAME[name].label}不能为空,请填写,如 "
                                           f"{BY_NAME[name].example}")
        return parts[0], parts[1], parts[2], parts[3]

    def _sku(self, raw, code: str, fail) -> Sku | None:
        if not code:
            fail("sku_code", "", "required", "商品编码不能为空,请填写商城商品编码,如 BRA-75B-BLK")
            return None
        sku = self.find_sku(self.sku_map.get(code, code))
        if sku is None:
            fail("sku_code", raw, "sku_unknown",
                 f"商品编码 \"{code}\" 在商城中不存在,请填写商城商品编码或 SKU ID,"
                 "或在映射方案中把该编码映射到商城编码")
        return sku

    def _quantity(self, raw, value: str, fail) -> int:
        if not value:
            fail("quantity", "", "required", "数量不能为空,请填写阿拉伯数字,如 2")
            return 0
        if value.isdigit() and value.isascii():  # the usual "2", without a regex or Decimal
            number = int(value)
        elif _QUANTITY.fullmatch(value):
            number = int(Decimal(value))
        else:
            fail("quantity", raw, "integer", f"数量 \"{value}\" 不是整数,请填写阿拉伯数字,如 2")
            return 0
        if number <= 0:
            fail("quantity", raw, "positive", f"数量 \"{value}\" 必须大于 0,如 1")
            return 0
        if number > MAX_QUANTITY:
            fail("quantity", raw, "max", f"数量 \"{value}\" 过大,单行最多 {MAX_QUANTITY} 件")
            return 0
        return number

    def _money(self, name: str, raw, clean: str, fail, required: bool = False) -> int | None:
        label = BY_NAME[name].label
        value = _MONEY_NOISE.sub("", clean) if clean else ""
        if not value:
            if required:
                fail(name, "", "required", f"{label}不能为空,请填写金额(元),如 199.00")
            return None
        try:
            amount = Decimal(value) if not isinstance(raw, float) else Decimal(repr(raw))
        except InvalidOperation:
            fail(name, raw, "money", f"{label} \"{clean}\" 不是金额,请填写以元为单位的数字,如 199.00")
            return None
        if not amount.is_finite():
            fail(name, raw, "money", f"{label} \"{clean}\" 不是金额,请填写以元为单位的数字,如 199.00")
            return None
        if amount < 0:
            fail(name, raw, "non_negative", f"{label} \"{clean}\" 不能为负数,请填写 0 或以上的金额")
            return None
        fen = amount * 100
        if fen != fen.to_integral_value():
            fail(name, raw, "money_precision", f"{label} \"{clean}\" 最多两位小数(精确到分),"
                                               f"如 {yuan(int(fen))}")
            return None
        if fen > 10**12:
            fail(name, raw, "money_max", f"{label} \"{clean}\" 过大")
            return None
        return int(fen)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@dataclass
class OrderTally:
    """What is known about one external order while the file is read."""
    first_row: int
    order: OrderFields
    rows: list[int]
    skus: dict[str, int]          # sku id -> row
    lines_fen: int = 0
    errors: dict[int, list[RowError]] = field(default_factory=dict)  # row -> order-level errors
    row_errors: bool = False      # a line of it has its own errors
    lines: list[Line] = field(default_factory=list)  # its rows without errors of their own


class Tally:
    """Groups parsed rows by external order id and finds what is wrong across lines."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderTally] = {}

    def add(self, row: ParsedRow, header: HeaderMatch) -> list[RowError]:
        """Adds a row; returns the order-level errors found on it (also kept on the order)."""
        if not row.external_id:
            return []
        tally = self.orders.get(row.external_id)
        if tally is None:
            tally = self.orders[row.external_id] = OrderTally(row.row_no, row.order, [], {})
        found: list[RowError] = []
        if tally.rows and tally.order != row.order:  # (equal: the common case, one comparison)
            for name in _differing(tally.order, row.order):
                found.append(RowError(
                    header.header_of(name), _shown(getattr(row.order, _ATTRS.get(name, name))),
                    "order_conflict",
                    f"外部订单号 {row.external_id} 已在第 {tally.first_row} 行出现,但{BY_NAME[name].label}"
                    f"不同;同一订单的各行须一致,若是不同订单请使用不同的外部订单号"))
        if row.sku is not None:
            earlier = tally.skus.get(row.sku.sku_id)
            if earlier is not None:
                found.append(RowError(header.header_of("sku_code"), row.sku.code or row.sku.sku_id,
                                      "duplicate_line", f"商品 {row.sku.code or row.sku.sku_id} 在"
                                      f"订单 {row.external_id} 中与第 {earlier} 行重复,请合并为一行"))
            else:
                tally.skus[row.sku.sku_id] = row.row_no
        tally.rows.append(row.row_no)
        tally.lines_fen += row.line_total_fen
        if row.errors:
            tally.row_errors = True
        elif row.sku is not None:
            tally.lines.append(Line(row.row_no, row.sku, row.quantity, row.unit_price_fen,
                                    row.discount_fen, row.line_total_fen))
        if found:
            tally.errors[row.row_no] = found
        return found

    def finish(self, header: HeaderMatch) -> None:
        """Checks each order's total against its lines (order-level errors on its first row)."""
        for external_id, tally in self.orders.items():
            if tally.row_errors or tally.order.order_total_fen is None:
                continue
            expected = tally.lines_fen + tally.order.shipping_fee_fen
            if abs(tally.order.order_total_fen - expected) > TOLERANCE_FEN:
                tally.errors.setdefault(tally.first_row, []).append(RowError(
                    header.header_of("order_total"), yuan(tally.order.order_total_fen),
                    "order_total", f"订单 {external_id} 的订单总额 {yuan(tally.order.order_total_fen)} "
                    f"与各行小计之和加运费 {yuan(expected)} 不符(第 "
                    f"{'、'.join(map(str, tally.rows))} 行),请填写 {yuan(expected)} 或改正各行"))

    def has_errors(self, external_id: str) -> bool:
        tally = self.orders.get(external_id)
        return tally is not None and (tally.row_errors or bool(tally.errors))


def _differing(a: OrderFields, b: OrderFields) -> list[str]:
    names = ("order_time", "status", "recipient", "phone", "province", "city", "district",
             "detail", "shipping_fee", "order_total")
    return [n for n in names if getattr(a, _ATTRS.get(n, n)) != getattr(b, _ATTRS.get(n, n))]


_ATTRS = {"shipping_fee": "shipping_fee_fen", "order_total": "order_total_fen"}


def _shown(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)
