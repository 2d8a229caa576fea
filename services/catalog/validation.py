"""Checks a product's and its SKUs' input, collecting every problem before anything is written."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import AlreadyExists, FieldViolation, Violations

from . import sizes
from .codes import SIZE_SYSTEMS
from .models import Category, Sku

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BARCODE = re.compile(r"^[0-9A-Za-z-]{6,32}$")
MAX_PRICE_FEN = 100_000_000  # 1,000,000 yuan: anything above is a typo
LIMITS = {"title": 120, "subtitle": 200, "material": 500, "composition": 500, "care": 500,
          "origin": 100, "body": 20000}


@dataclass
class ProductFields:
    category: Category
    functions: list[Category]
    brand: Category | None
    size_system: str
    size_chart_json: str


@dataclass
class SkuFields:
    code: str
    size: str
    band: int
    cup: str
    colour: str
    price_fen: int
    barcode: str | None
    active: bool | None  # None: not given


def _facet(session: Session, v: Violations, field: str, category_id: str,
           kind: str) -> Category | None:
    category = session.get(Category, category_id)
    if category is None:
        v.add(field, "exists", f"no category has id {category_id!r}; use an existing {kind} id")
        return None
    if category.kind != kind:
        v.add(field, "kind", f"{category.name!r} is a {category.kind} category; a {kind} "
                              f"category is needed here")
        return None
    return category


def product_fields(session: Session, data: pb.ProductInput, v: Violations,
                   prefix: str = "product") -> ProductFields | None:
    title = data.title.strip()
    v.check(bool(title), f"{prefix}.title", "required", "title must not be empty")
    texts = {"title": data.title, "subtitle": data.subtitle, **{
        k: getattr(data.description, k) for k in ("material", "composition", "care", "origin",
                                                   "body")}}
    for name, text in texts.items():
        field = f"{prefix}.{name}" if name in ("title", "subtitle") else f"{prefix}.description.{name}"
        v.check(len(text) <= LIMITS[name], field, "length",
                f"{name} must be at most {LIMITS[name]} characters; got {len(text)}")

    category = None
    if not data.category_id:
        v.add(f"{prefix}.category_id", "required", "a style category is required")
    else:
        category = _facet(session, v, f"{prefix}.category_id", data.category_id, "style")
    functions: list[Category] = []
    seen: set[str] = set()
    for i, function_id in enumerate(data.function_ids):
        if function_id in seen:
            v.add(f"{prefix}.function_ids[{i}]", "unique", "this function facet is listed twice")
            continue
        seen.add(function_id)
        found = _facet(session, v, f"{prefix}.function_ids[{i}]", function_id, "function")
        if found:
            functions.append(found)
    brand = None
    if data.brand_id:
        brand = _facet(session, v, f"{prefix}.brand_id", data.brand_id, "brand")

    system = SIZE_SYSTEMS.get(data.size_system)
    if system is None:
        v.add(f"{prefix}.size_system", "enum", "size_system must be BRA or LETTER")
    chart = _size_chart(data.size_chart, system, v, f"{prefix}.size_chart")
    if v.items or category is None or system is None:
        return None
    return ProductFields(category, functions, brand, system, chart)


def _size_chart(chart: pb.SizeChart, system: str | None, v: Violations, prefix: str) -> str:
    columns = [c.strip() for c in chart.columns]
    v.check(len(columns) <= 10, f"{prefix}.columns", "length", "a size chart has at most 10 columns")
    for i, column in enumerate(columns):
        v.check(0 < len(column) <= 30, f"{prefix}.columns[{i}]", "length",
                "a column name must be 1..30 characters")
    seen = set()
    for i, row in enumerate(chart.rows):
        if system and not sizes.is_valid_size(system, row.size):
            accepted = ("65..100 band with cup A..G, e.g. 75B" if system == "bra"
                        else ", ".join(sizes.LETTER_SIZES))
            v.add(f"{prefix}.rows[{i}].size", "size", f"{row.size!r} is not a {system} size; "
                                                      f"accepted: {accepted}")
        if row.size in seen:
            v.add(f"{prefix}.rows[{i}].size", "unique", f"size {row.size!r} has two rows")
        seen.add(row.size)
        v.check(len(row.values) == len(columns), f"{prefix}.rows[{i}].values", "columns",
                f"the row has {len(row.values)} values for {len(columns)} columns")
    return json.dumps({"columns": columns, "rows": [{"size": r.size, "values": list(r.values)}
                                                    for r in chart.rows]}, ensure_ascii=False)


def sku_fields(data: pb.SkuInput, system: str, v: Violations, prefix: str) -> SkuFields | None:
    start = len(v.items)
    code = data.code.strip()
    v.check(bool(CODE.match(code)), f"{prefix}.code", "format",
            "code must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    colour = data.colour.strip()
    v.check(0 < len(colour) <= 20, f"{prefix}.colour", "length", "colour must be 1..20 characters")
    if data.price_fen <= 0:
        v.add(f"{prefix}.price_fen", "positive",
              f"price_fen is an amount in fen and must be greater than 0; got {data.price_fen}")
    elif data.price_fen > MAX_PRICE_FEN:
        v.add(f"{prefix}.price_fen", "range", f"price_fen must be at most {MAX_PRICE_FEN}")
    barcode = data.barcode.strip() or None
    if barcode is not None:
        v.check(bool(BARCODE.match(barcode)), f"{prefix}.barcode", "format",
                "barcode must be 6..32 letters, digits or '-'")
    band, cup, size = 0, "", data.size.strip().upper()
    if system == sizes.BRA:
        band, cup = data.band, data.cup.strip().upper()
        v.check(band in sizes.BANDS, f"{prefix}.band", "band",
                f"band must be one of {', '.join(map(str, sizes.BANDS))}; got {data.band}")
        v.check(cup in sizes.CUPS, f"{prefix}.cup", "cup",
                f"cup must be one of {', '.join(sizes.CUPS)}; got {data.cup!r}")
        size = sizes.bra_size(band, cup)
    else:
        v.check(size in sizes.LETTER_SIZES, f"{prefix}.size", "size",
                f"size must be one of {', '.join(sizes.LETTER_SIZES)}; got {data.size!r}")
    if len(v.items) > start:
        return None
    return SkuFields(code, size, band, cup, colour, data.price_fen, barcode,
                     data.active if data.HasField("active") else None)


def skus_fields(items, system: str, v: Violations, prefix: str = "skus") -> list[SkuFields]:
    """Each SKU checked, then duplicates inside the request (code, barcode, size x colour)."""
    out: list[tuple[int, SkuFields]] = []
    for i, data in enumerate(items):
        fields = sku_fields(data, system, v, f"{prefix}[{i}]")
        if fields:
            out.append((i, fields))
    codes, barcodes, variants = {}, {}, {}
    for i, f in out:
        if f.code in codes:
            v.add(f"{prefix}[{i}].code", "unique", f"code {f.code!r} is also used by "
                                                   f"{prefix}[{codes[f.code]}]")
        codes.setdefault(f.code, i)
        if f.barcode and f.barcode in barcodes:
            v.add(f"{prefix}[{i}].barcode", "unique", f"barcode {f.barcode!r} is also used by "
                                                      f"{prefix}[{barcodes[f.barcode]}]")
        if f.barcode:
            barcodes.setdefault(f.barcode, i)
        variant = (f.size, f.colour)
        if variant in variants:
            v.add(f"{prefix}[{i}]", "unique_variant", f"size {f.size} in {f.colour} is also "
                                                      f"{prefix}[{variants[variant]}]")
        variants.setdefault(variant, i)
    return [f for _, f in out]


def check_stored_conflicts(session: Session, product_id: str | None, items: list[SkuFields],
                           prefix: str = "skus", *, exclude_sku_id: str | None = None,
                           index_offset: int = 0) -> None:
    """ALREADY_EXISTS when a code or barcode is taken in the shop, or the product already has the
    size x colour, naming each offending SKU of the request."""
    conflicts: list[FieldViolation] = []
    codes = {f.code for f in items}
    barcodes = {f.barcode for f in items if f.barcode}
    taken_codes = set(session.scalars(select(Sku.code).where(Sku.code.in_(codes),
                                                             Sku.id != (exclude_sku_id or ""))))
    taken_barcodes = set(session.scalars(select(Sku.barcode).where(
        Sku.barcode.in_(barcodes), Sku.id != (exclude_sku_id or "")))) if barcodes else set()
    taken_variants = set()
    if product_id:
        taken_variants = {(s, c) for s, c in session.execute(select(Sku.size, Sku.colour).where(
            Sku.product_id == product_id, Sku.id != (exclude_sku_id or "")))}
    for i, f in enumerate(items):
        field = f"{prefix}[{i + index_offset}]" if exclude_sku_id is None else prefix
        if f.code in taken_codes:
            conflicts.append(FieldViolation(f"{field}.code", "unique",
                                            f"SKU code {f.code!r} is already used in the shop"))
        if f.barcode in taken_barcodes:
            conflicts.append(FieldViolation(f"{field}.barcode", "unique",
                                            f"barcode {f.barcode!r} is already used in the shop"))
        if (f.size, f.colour) in taken_variants:
            conflicts.append(FieldViolation(field, "unique_variant",
                                            f"the product already has size {f.size} in {f.colour}"))
    if conflicts:
        raise AlreadyExists("; ".join(f"{c.field}: {c.description}" for c in conflicts[:5]),
                            conflicts)
