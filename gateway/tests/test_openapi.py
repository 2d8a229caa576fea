"""The OpenAPI document says what each answer holds, names each operation, and declares how
callers authenticate and which routes take an Idempotency-Key."""
from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from gateway import proto_models
from gateway.app import create_app
from gateway.convert import to_json

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec() -> dict:
    with TestClient(create_app()) as client:
        return client.get("/openapi.json").json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_json_answer_has_a_schema_that_says_what_it_holds(spec):
    free_form = []
    checked = 0
    for where, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            for media_type, content in response.get("content", {}).items():
                if "json" not in media_type:
                    continue
                checked += 1
                schema = _resolve(spec, content.get("schema", {}))
                if not schema.get("properties"):
                    free_form.append(f"{where} {status}")
    assert free_form == []
    assert checked > 100


def test_a_listing_answer_is_documented_from_the_proto(spec):
    content = spec["paths"]["/v1/products"]["get"]["responses"]["200"]["content"]
    listing = _resolve(spec, content["application/json"]["schema"])
    assert {"products", "page"} <= set(listing["properties"])
    product = _resolve(spec, listing["properties"]["products"]["items"])
    assert product["properties"]["min_price_fen"]["type"] == "integer"  # int64 unquoted


def test_operation_ids_are_unique_and_named_after_the_routes(spec):
    ids = {where: operation["operationId"] for where, operation in _operations(spec)}
    assert len(set(ids.values())) == len(ids)
    for where, operation_id in ids.items():
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", operation_id), (where, operation_id)
    assert ids["GET /v1/products"] == "listProducts"
    assert ids["GET /v1/admin/products"] == "adminListProducts"
    assert ids["POST /v1/admin/coupon-templates"] == "adminCreateCouponTemplate"
    assert ids["POST /partner/v1/order-imports"] == "partnerUploadImportFile"


def test_bearer_and_partner_signature_schemes_are_declared_on_their_routes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": schemes["bearer"]["description"]}
    assert schemes["partnerHmac"]["type"] == "apiKey"
    assert schemes["partnerHmac"]["in"] == "header"
    assert schemes["partnerHmac"]["name"] == "X-Mall-Signature"
    paths = spec["paths"]
    assert {"bearer": []} in paths["/v1/me/profile"]["get"]["security"]
    assert {"bearer": []} in paths["/v1/admin/products"]["get"]["security"]
    assert {"partnerHmac": []} in paths["/partner/v1/order-imports"]["post"]["security"]
    assert {"partnerHmac": []} in paths["/partner/v1/order-imports/{job_id}"]["get"]["security"]
    assert "security" not in paths["/v1/products"]["get"]


def test_idempotency_key_is_declared_on_the_routes_that_read_it(spec):
    def takes_key(path: str, method: str) -> bool:
        return any(p["in"] == "header" and p["name"] == "Idempotency-Key"
                   for p in spec["paths"][path][method].get("parameters", []))

    for path, method in [("/v1/orders", "post"), ("/v1/orders/{order_id}/payments", "post"),
                         ("/v1/cart/items", "post"), ("/v1/admin/coupon-templates", "post"),
                         ("/v1/points-mall/{item_id}/redeem", "post"),
                         ("/v1/admin/logistics/stock/receipts", "post")]:
        assert takes_key(path, method), (method, path)
    assert not takes_key("/v1/products", "get")



_SAMPLES = {FieldDescriptor.TYPE_STRING: "x", FieldDescriptor.TYPE_BYTES: b"x",
            FieldDescriptor.TYPE_BOOL: True, FieldDescriptor.TYPE_DOUBLE: 1.5,
            FieldDescriptor.TYPE_FLOAT: 1.5, FieldDescriptor.TYPE_INT64: 2**40,
            FieldDescriptor.TYPE_UINT64: 2**40}


def _sample(field: Any) -> Any:
    if field.enum_type is not None:
        return field.enum_type.values[-1].number
    return _SAMPLES.get(field.type, 7)


def _filled(message: Message, depth: int = 0) -> Message:
    """Every field set away from its default, one element in each list and map."""
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        kind = field.message_type
        if kind is not None and kind.GetOptions().map_entry:
            entry = kind.fields_by_name["value"]
            if entry.message_type is None:
                value["k"] = _sample(entry)
            elif depth < 4:
                _filled(value["k"], depth + 1)
        elif kind is not None and kind.full_name.startswith("google.protobuf."):
            if kind.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration",
                                  "google.protobuf.Struct") and not field.is_repeated:
                value.SetInParent()
        elif kind is not None:
            if depth < 4:
                _filled(value.add() if field.is_repeated else value, depth + 1)
        elif field.is_repeated:
            value.append(_sample(field))
        elif field.containing_oneof is None or field.containing_oneof.fields[0] is field:
            setattr(message, field.name, _sample(field))
    return message


def test_the_documented_models_accept_the_json_of_the_replies(spec):  # spec: the app is built
    # What convert.to_json makes of a reply, all defaults or every field set, fits its model:
    # the document describes the bodies the routes really send.
    documented = proto_models.documented()
    assert len(documented) > 100
    for descriptor, model in documented:
        message_class = GetMessageClass(descriptor)
        for message in (message_class(), _filled(message_class())):
            model.model_validate(to_json(message), strict=True)


def test_the_order_detail_shows_after_sale_requests_on_the_order_and_its_lines(spec):
    for path in ("/v1/orders/{order_id}", "/v1/admin/orders/{order_id}"):
        answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        order = _resolve(spec, answer)
        request = _resolve(spec, order["properties"]["aftersales"]["items"])
        assert {"request_id", "kind", "state", "outcome", "quantity", "refund_fen",
                "refunded_fen"} <= set(request["properties"]), path
        line = _resolve(spec, order["properties"]["lines"]["items"])
        assert _resolve(spec, line["properties"]["aftersales"]["items"]) == request
