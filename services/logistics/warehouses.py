"""Warehouses: where stock sits. Their address and coordinates will choose who ships an order."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicekit.errors import AlreadyExists, FieldViolation, NotFound, Violations

from .models import Warehouse

CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")


@dataclass(frozen=True)
class WarehouseInput:
    code: str
    name: str
    province: str
    city: str
    district: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    active: bool = True
    priority: int = 0
    carriers: tuple[str, ...] = ()


def _validate(spec: WarehouseInput, prefix: str = "warehouse.") -> None:
    v = Violations()
    v.check(bool(CODE.match(spec.code or "")), prefix + "code", "format",
            f"code {spec.code!r} must be 2..32 characters of A-Z, 0-9 and -, "
            "starting with a letter or digit, e.g. SH-EAST")
    v.check(bool(spec.name.strip()) and len(spec.name) <= 100, prefix + "name", "required",
            "a name of 1..100 characters is required, e.g. 华东仓")
    v.check(bool(spec.province.strip()) and len(spec.province) <= 50, prefix + "province",
            "required", "the province is required (at most 50 characters), e.g. 上海市 or 广东省")
    v.check(bool(spec.city.strip()) and len(spec.city) <= 50, prefix + "city", "required",
            "the city is required (at most 50 characters), e.g. 广州市")
    v.check(len(spec.district) <= 50, prefix + "district", "length",
            "the district has at most 50 characters")
    v.check(math.isfinite(spec.latitude) and -90 <= spec.latitude <= 90, prefix + "latitude",
            "range", f"latitude must be between -90 and 90 degrees, not {spec.latitude}")
    v.check(math.isfinite(spec.longitude) and -180 <= spec.longitude <= 180,
            prefix + "longitude", "range",
            f"longitude must be between -180 and 180 degrees, not {spec.longitude}")
    v.check(0 <= spec.priority <= 1000, prefix + "priority", "range",
            f"priority must be between 0 and 1000, not {spec.priority}")
    from .carriers import CARRIERS  # the carriers logistics can book
    for i, code in enumerate(spec.carriers):
        v.check(code in CARRIERS, f"{prefix}carriers[{i}]", "known",
                f"carrier {code!r} is unknown; use one of {', '.join(sorted(CARRIERS))}")
    v.raise_if_any("the warehouse is invalid")


def create_warehouse(session: Session, spec: WarehouseInput) -> Warehouse:
    spec = WarehouseInput(**{k: (val.strip() if isinstance(val, str) else val)
                             for k, val in spec.__dict__.items()})
    _validate(spec)
    if session.scalar(select(Warehouse.id).where(Warehouse.code == spec.code)) is not None:
        raise _exists(spec.code)
    fields = {**spec.__dict__, "carriers": list(dict.fromkeys(spec.carriers))}
    warehouse = Warehouse(**fields, created_at=datetime.now(timezone.utc))
    session.add(warehouse)
    try:
        with session.begin_nested():  # a concurrent create of the same code loses here
            session.flush()
    except IntegrityError:
        raise _exists(spec.code) from None
    return warehouse


def _exists(code: str) -> AlreadyExists:
    return AlreadyExists(f"a warehouse with code {code} already exists",
                         [FieldViolation("warehouse.code", "unique",
                                         f"code {code} is taken; choose another")])


def list_warehouses(session: Session, include_inactive: bool = False) -> list[Warehouse]:
    query = select(Warehouse).order_by(Warehouse.priority.desc(), Warehouse.code)
    if not include_inactive:
        query = query.where(Warehouse.active.is_(True))
    return list(session.scalars(query))


def warehouse_by_code(session: Session, code: str, field: str = "warehouse_code") -> Warehouse:
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == code)) if code else None
    if warehouse is None:
        raise NotFound(f"no warehouse with code {code!r}",
                       [FieldViolation(field, "exists",
                                       f"no warehouse has code {code!r}; ListWarehouses shows "
                                       "the codes")])
    return warehouse
