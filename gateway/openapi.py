"""What /openapi.json says beyond what FastAPI derives: operation ids from the route functions'
names, and validation errors documented as the 400 problems they are."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

# Routes under these paths act for someone else than a shopper: their ids say so
# (list_products under /v1/admin is adminListProducts, beside the shop's listProducts).
_AUDIENCES = (("/v1/admin/", "admin"), ("/partner/", "partner"))


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase, prefixed by its audience."""
    words = route.name.split("_")
    for prefix, audience in _AUDIENCES:
        if route.path.startswith(prefix) and words[0] != audience:
            words.insert(0, audience)
    return words[0] + "".join(word.capitalize() for word in words[1:])


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes, tags=app.openapi_tags)
            seen: dict[str, str] = {}
            for path, operations in spec.get("paths", {}).items():
                for method, operation in operations.items():
                    where = f"{method.upper()} {path}"
                    if operation["operationId"] in seen:
                        raise ValueError(f"{where} and {seen[operation['operationId']]} have "
                                         f"one operationId {operation['operationId']}: rename one")
                    seen[operation["operationId"]] = where
                    # FastAPI documents its validation errors as 422; this gateway answers them
                    # as 400 problems (problems.py).
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                spec.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
