"""No input reaches a service unchecked (issue 15): every integer a route takes, in a body, a
query, a path, a header or a form, has a range within int64; every string a length bound. Walks
every route of the app, so a new route or field without bounds fails here."""
from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

from annotated_types import Ge, GroupedMetadata, Gt, Le, Lt, MaxLen
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gateway.app import create_app

INT64 = (-(2**63), 2**63 - 1)


def _flat(metadata):
    """Constraints one by one: a pydantic FieldInfo or a GroupedMetadata holds several."""
    for item in metadata:
        if isinstance(item, FieldInfo):
            yield from _flat(item.metadata)
        elif isinstance(item, GroupedMetadata):
            yield from _flat(list(item))
        else:
            yield item


def _bounds(metadata) -> tuple[Any, Any, int | None]:
    low: Any = None
    high: Any = None
    max_len = None
    for item in _flat(metadata):
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Gt):
            low = int(item.gt) + 1  # type: ignore[call-overload]
        elif isinstance(item, Le):
            high = item.le
        elif isinstance(item, Lt):
            high = int(item.lt) - 1  # type: ignore[call-overload]
        elif isinstance(item, MaxLen):
            max_len = item.max_length
    return low, high, max_len


def _leaves(annotation, in_container: bool = False):
    """The scalar types inside an annotation (Optional, list, dict, Annotated unwrapped), each
    with the metadata that applies to it and whether it sits in a container (whose own bounds,
    a list's max_length, say, are not its items')."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        for leaf, leaf_meta, contained in _leaves(inner, in_container):
            yield leaf, [*meta, *leaf_meta], contained
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                yield from _leaves(arg, in_container)
    elif origin in (list, tuple, set, frozenset, dict):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _leaves(arg, True)
    else:
        yield annotation, [], in_container


def _problems(where: str, annotation, metadata, seen: set) -> list[str]:
    out = []
    for leaf, leaf_meta, contained in _leaves(annotation):
        meta = leaf_meta if contained else [*metadata, *leaf_meta]
        if isinstance(leaf, type) and issubclass(leaf, BaseModel):
            if leaf not in seen:
                seen.add(leaf)
                for name, field in leaf.model_fields.items():
                    out += _problems(f"{where}.{name}", field.annotation, field.metadata, seen)
        elif leaf is bool or (isinstance(leaf, type) and issubclass(leaf, Enum)):
            continue
        elif leaf is int:
            low, high, _ = _bounds(meta)
            if low is None or high is None or low < INT64[0] or high > INT64[1]:
                out.append(f"{where}: int without a range within int64 ({low}..{high})")
        elif leaf is str:
            if _bounds(meta)[2] is None:
                out.append(f"{where}: str without max_length")
        elif typing.get_origin(leaf) is typing.Literal:
            continue
        elif leaf is float:
            low, high, _ = _bounds(meta)
            if low is None or high is None:
                out.append(f"{where}: float without a range")
    return out


def _api_routes(routes):
    """Every APIRoute, through the included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def test_every_integer_and_string_a_route_takes_is_bounded():
    app = create_app()
    problems = []
    routes = list(_api_routes(app.routes))
    assert len(routes) > 100
    for route in routes:
        for param in _params(route.dependant):
            if param.name in ("file", "poster"):  # uploads: bounded by size, not by type
                continue
            where = f"{sorted(route.methods)[0]} {route.path} {param.name}"
            problems += _problems(where, param.field_info.annotation, param.field_info.metadata,
                                  set())
    assert not problems, "\n".join(sorted(set(problems)))


def _params(dependant) -> list:
    """The inputs of a route and of every dependency it has."""
    found = (dependant.path_params + dependant.query_params + dependant.header_params
             + dependant.cookie_params + dependant.body_params)
    for sub in dependant.dependencies:
        found += _params(sub)
    return found
