"""What a coupon or a campaign applies to: all products, some categories, or some products."""
from __future__ import annotations

from servicekit.errors import Violations
from servicekit.ids import check_references

from .models import SCOPES
from .pricing import Scope

MAX_SCOPE_IDS = 200


def check_scope(v: Violations, spec) -> None:
    """`spec` has scope, category_ids and product_ids (a coupon template, a campaign)."""
    if not v.check(spec.scope in SCOPES, "spec.scope", "one_of",
                   f"scope must be one of {', '.join(SCOPES)}"):
        return
    wanted = {"all": None, "categories": "category_ids", "products": "product_ids"}[spec.scope]
    for name in ("category_ids", "product_ids"):
        ids = getattr(spec, name)
        if name == wanted:
            if v.check(bool(ids), f"spec.{name}", "required",
                       f"a coupon scoped to {spec.scope} needs at least one id in {name}"):
                v.check(len(ids) <= MAX_SCOPE_IDS, f"spec.{name}", "max_items",
                        f"{name} holds at most {MAX_SCOPE_IDS} ids")
                v.check(all(ids) and len(set(ids)) == len(ids), f"spec.{name}", "distinct",
                        f"{name} must hold distinct, non-empty ids")
                check_references(v, f"spec.{name}", ids)
        else:
            v.check(not ids, f"spec.{name}", "unused",
                    f"{name} is only for scope {name.split('_')[0]}; it must be empty for "
                    f"scope {spec.scope}")


def scope_of(row) -> Scope:
    """The engine's Scope of a stored template or campaign."""
    return Scope(row.scope, frozenset(row.category_ids or ()), frozenset(row.product_ids or ()))


def intersects(a, b) -> bool:
    """Whether two scopes may cover the same product. Categories and products cannot be compared
    without the catalog, so they are taken as disjoint (the engine then gives each line to one
    threshold campaign only)."""
    if a.scope == "all" or b.scope == "all":
        return True
    if a.scope != b.scope:
        return False
    field = "category_ids" if a.scope == "categories" else "product_ids"
    return bool(set(getattr(a, field)) & set(getattr(b, field)))
