"""A partner's mapping profile: their headers to our columns, their product codes to ours, their
status words to ours, and whether their orders take stock. Saved whole (a save replaces it)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from mall.order.v1 import order_import_pb2 as pb
from sqlalchemy.orm import Session

from servicekit.errors import Violations

from ..models import ImportProfile
from .columns import BY_NAME

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
OURS = ("paid", "shipped", "completed")


def save(session: Session, request: pb.ImportProfile, *, partner: str, caller: str,
         now: datetime | None = None) -> ImportProfile:
    v = Violations()
    v.check(bool(partner), "partner", "required", "the partner the profile belongs to")
    v.check(bool(NAME.match(request.name)), "name", "format",
            "1 to 64 letters, digits, '_', '.' or '-', e.g. default")
    for theirs, ours in request.column_map.items():
        v.check(ours in BY_NAME, f"column_map[{theirs}]", "one_of",
                f"{ours!r} is not a column; use one of {', '.join(BY_NAME)}")
    for theirs, ours in request.status_map.items():
        v.check(ours in OURS, f"status_map[{theirs}]", "one_of",
                f"{ours!r}: map to paid, shipped or completed")
    for theirs, ours in request.sku_map.items():
        v.check(bool(theirs.strip() and ours.strip()), f"sku_map[{theirs}]", "required",
                "both their code and our SKU code (or id)")
    v.raise_if_any("the mapping profile is invalid")
    row = session.get(ImportProfile, (partner, request.name), with_for_update=True)
    if row is None:
        row = ImportProfile(partner=partner, name=request.name)
        session.add(row)
    row.column_map, row.sku_map = dict(request.column_map), dict(request.sku_map)
    row.status_map, row.deduct_stock = dict(request.status_map), request.deduct_stock
    row.updated_by, row.updated_at = caller, now or datetime.now(timezone.utc)
    session.flush()
    return row


