"""Use cases on categories and facets: one tree per kind (style, function, brand)."""
from __future__ import annotations

from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import AlreadyExists, FieldViolation, NotFound, Violations

from . import search
from .codes import KINDS
from .models import Category, Product, ProductFunction, new_id

MAX_DEPTH = 4
KIND_ORDER = {"style": 0, "function": 1, "brand": 2}
MAX_NAME = 40


def _sibling_key(kind: str, parent_id: str | None, name: str) -> str:
    return f"{kind}:{parent_id or ''}:{name}"


def _check_unique(session: Session, key: str, own_id: str | None = None) -> None:
    existing = session.scalar(select(Category.id).where(Category.sibling_key == key))
    if existing and existing != own_id:
        raise AlreadyExists("a sibling category already has this name", [FieldViolation(
            "category.name", "unique",
            "another category of this kind under the same parent has this name; choose another")])


def _validate(session: Session, data: pb.CategoryInput, kind: str | None,
              v: Violations) -> Category | None:
    name = data.name.strip()
    v.check(1 <= len(name) <= MAX_NAME, "category.name", "length",
            f"name must be 1..{MAX_NAME} characters")
    if kind is None:
        v.add("category.kind", "enum", "kind must be STYLE, FUNCTION or BRAND")
    parent = None
    if data.parent_id:
        parent = session.get(Category, data.parent_id)
        if parent is None:
            v.add("category.parent_id", "exists",
                  f"no category has id {data.parent_id!r}; use an existing id or leave it empty")
        elif kind is not None and parent.kind != kind:
            v.add("category.parent_id", "same_kind",
                  f"the parent is a {parent.kind} category; a {kind} category needs a {kind} parent")
        elif parent.depth + 1 >= MAX_DEPTH:
            v.add("category.parent_id", "depth", f"categories nest at most {MAX_DEPTH} levels deep")
    return parent


def create_category(session: Session, data: pb.CategoryInput) -> Category:
    v = Violations()
    kind = KINDS.get(data.kind)
    parent = _validate(session, data, kind, v)
    v.raise_if_any()
    name = data.name.strip()
    key = _sibling_key(kind, data.parent_id or None, name)
    _check_unique(session, key)
    category_id = new_id()
    category = Category(id=category_id, kind=kind, name=name, parent_id=parent.id if parent else None,
                        path=f"{parent.path if parent else '/'}{category_id}/",
                        depth=parent.depth + 1 if parent else 0, sort_order=data.sort_order,
                        active=data.active if data.HasField("active") else True, sibling_key=key)
    session.add(category)
    session.flush()
    return category


def update_category(session: Session, category_id: str, data: pb.CategoryInput) -> Category:
    category = session.get(Category, category_id, with_for_update=True)
    if category is None:
        raise NotFound(f"no category has id {category_id!r}")
    v = Violations()
    if data.kind and KINDS.get(data.kind) != category.kind:
        v.add("category.kind", "immutable",
              f"a category's kind cannot change; this one is {category.kind}")
    parent = _validate(session, data, category.kind, v)
    if parent is not None and (parent.id == category.id or parent.path.startswith(category.path)):
        v.add("category.parent_id", "acyclic", "a category cannot move under itself or a descendant")
    v.raise_if_any()
    name = data.name.strip()
    key = _sibling_key(category.kind, data.parent_id or None, name)
    _check_unique(session, key, category.id)
    renamed_or_moved = name != category.name or (data.parent_id or None) != category.parent_id
    if (data.parent_id or None) != category.parent_id:
        _move(session, category, parent)
    category.name, category.sibling_key, category.sort_order = name, key, data.sort_order
    if data.HasField("active"):
        category.active = data.active
    session.flush()
    if renamed_or_moved:  # facet names are indexed: products found by the old name must not be
        for product in products_under(session, category):
            search.reindex(session, product)
    return category


def _move(session: Session, category: Category, parent: Category | None) -> None:
    """Re-roots the subtree: every descendant's path and depth follow."""
    old_path = category.path
    new_path = f"{parent.path if parent else '/'}{category.id}/"
    shift = (parent.depth + 1 if parent else 0) - category.depth
    for node in session.scalars(select(Category).where(Category.path.like(f"{old_path}%"))):
        node.path = new_path + node.path[len(old_path):]
        node.depth += shift
    category.parent_id = parent.id if parent else None


def products_under(session: Session, category: Category) -> list[Product]:
    """Products whose indexed facet names include this category's."""
    subtree = select(Category.id).where(Category.path.like(f"{category.path}%"))
    tagged = select(ProductFunction.product_id).where(ProductFunction.category_id.in_(subtree))
    return list(session.scalars(select(Product).where(
        Product.category_id.in_(subtree) | Product.brand_id.in_(subtree) | Product.id.in_(tagged))))


def list_categories(session: Session, kind: str | None, *, include_inactive: bool) -> list[Category]:
    """Flat, kind by kind (style, function, brand), parents before children, siblings by
    sort_order then name. Shoppers do not see an inactive category, nor anything under it."""
    query = select(Category)
    if kind:
        query = query.where(Category.kind == kind)
    rows = list(session.scalars(query))
    children: dict[str | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[Category] = []

    def walk(parent_id: str | None) -> None:
        for child in sorted(children.get(parent_id, []),
                            key=lambda c: (KIND_ORDER[c.kind], c.sort_order, c.name)):
            if child.active or include_inactive:
                ordered.append(child)
                walk(child.id)

    walk(None)
    return ordered
