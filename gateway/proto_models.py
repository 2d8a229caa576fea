"""Response models derived from the protos: `model_of(catalog_pb2.Product)` is the Pydantic
model of the JSON that convert.to_json makes of a Product, so the OpenAPI document describes
each answer from the contract itself and cannot drift from it.

The models document; they do not validate. Routes answer convert.answer(reply), a Response,
which FastAPI sends as it is (no second pass over every body)."""
from __future__ import annotations

from typing import Any, Literal, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, Field, create_model

_SCALARS: dict[int, type] = {
    FieldDescriptor.TYPE_DOUBLE: float, FieldDescriptor.TYPE_FLOAT: float,
    FieldDescriptor.TYPE_INT32: int, FieldDescriptor.TYPE_SINT32: int,
    FieldDescriptor.TYPE_SFIXED32: int, FieldDescriptor.TYPE_UINT32: int,
    FieldDescriptor.TYPE_FIXED32: int,
    # int64 kinds are JSON integers here (convert.to_json unquotes them): money in fen.
    FieldDescriptor.TYPE_INT64: int, FieldDescriptor.TYPE_SINT64: int,
    FieldDescriptor.TYPE_SFIXED64: int, FieldDescriptor.TYPE_UINT64: int,
    FieldDescriptor.TYPE_FIXED64: int,
    FieldDescriptor.TYPE_BOOL: bool, FieldDescriptor.TYPE_STRING: str,
}

# Well-known types have a JSON form of their own (proto3 JSON mapping).
_WELL_KNOWN: dict[str, tuple[Any, dict[str, Any]]] = {
    "google.protobuf.Timestamp": (str, {"format": "date-time"}),
    "google.protobuf.Duration": (str, {"description": "seconds with an s suffix, e.g. 1.5s"}),
    "google.protobuf.FieldMask": (str, {"description": "comma-separated field paths"}),
    "google.protobuf.Struct": (dict[str, Any], {}),
    "google.protobuf.Value": (Any, {}),
    "google.protobuf.ListValue": (list[Any], {}),
    "google.protobuf.Any": (dict[str, Any], {}),
    "google.protobuf.BoolValue": (bool, {}),
    "google.protobuf.StringValue": (str, {}),
    "google.protobuf.BytesValue": (str, {"format": "byte"}),
    "google.protobuf.DoubleValue": (float, {}),
    "google.protobuf.FloatValue": (float, {}),
    "google.protobuf.Int32Value": (int, {}),
    "google.protobuf.UInt32Value": (int, {}),
    "google.protobuf.Int64Value": (int, {}),
    "google.protobuf.UInt64Value": (int, {}),
}

_models: dict[str, type[BaseModel]] = {}
_descriptors: dict[str, Descriptor] = {}
_names: dict[str, str] = {}


def model_of(message: type[Message] | Descriptor) -> type[BaseModel]:
    """The (cached) model of a message's proto3 JSON: field names as in the proto, every field
    without presence always present, enums by name, int64 as integers."""
    descriptor = cast(Descriptor, message if isinstance(message, Descriptor) else message.DESCRIPTOR)
    model = _models.get(descriptor.full_name)
    if model is None:
        _descriptors[descriptor.full_name] = descriptor
        model = _models[descriptor.full_name] = _build(descriptor)
    return model


def documented() -> list[tuple[Descriptor, type[BaseModel]]]:
    """Every message given a model so far, with it (the routes' answers and what they hold)."""
    return [(_descriptors[name], model) for name, model in _models.items()]


def component_name(descriptor: Descriptor) -> str:
    """mall.catalog.v1.Product.Media -> CatalogProductMedia (unique: the schemas' names)."""
    package = [part for part in descriptor.file.package.split(".") if part not in ("mall", "v1")]
    nested = descriptor.full_name.removeprefix(descriptor.file.package + ".").split(".")
    name = "".join(part[:1].upper() + part[1:] for part in (*package, *nested))
    taken = _names.setdefault(name, descriptor.full_name)
    if taken != descriptor.full_name:
        raise ValueError(f"{descriptor.full_name} and {taken} would both be documented as {name}")
    return name


def _build(descriptor: Descriptor) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for field in descriptor.fields:
        annotation, extra = _field_type(field)
        # A field with presence (a message, `optional`, a oneof member) is left out when unset.
        required = field.is_repeated or not field.has_presence
        # A name BaseModel uses itself (`json`) is declared under another and aliased back.
        name = f"{field.name}_" if hasattr(BaseModel, field.name) else field.name
        fields[name] = (annotation, Field(... if required else None, alias=field.name,
                                          json_schema_extra=extra or None))
    return create_model(component_name(descriptor), __config__=ConfigDict(extra="forbid"),
                        __module__=__name__, **fields)


def _field_type(field: FieldDescriptor) -> tuple[Any, dict[str, Any]]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value, _ = _single_type(field.message_type.fields_by_name["value"])
        return dict[str, value], {}  # type: ignore[valid-type]
    single, extra = _single_type(field)
    if field.is_repeated:
        return list[single], {}  # type: ignore[valid-type]
    return single, extra


def _single_type(field: FieldDescriptor) -> tuple[Any, dict[str, Any]]:
    if field.enum_type is not None:
        return Literal[tuple(value.name for value in field.enum_type.values)], {}
    if field.type == FieldDescriptor.TYPE_BYTES:
        return str, {"format": "byte"}
    if field.message_type is not None:
        known = _WELL_KNOWN.get(field.message_type.full_name)
        return known if known is not None else (model_of(field.message_type), {})
    return _SCALARS[field.type], {}
