"""Protobuf messages to JSON bodies: field names as in the proto (snake_case), int64 as JSON
integers (money in fen stays an integer), fields at their default values included."""
from __future__ import annotations

from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import Message

from .problems import Problem

M = TypeVar("M", bound=Message)


def to_json(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True,
                         always_print_fields_with_no_presence=True,
                         unquote_int64_if_possible=True)


def answer(body: Message | dict[str, Any], status_code: int = 200) -> JSONResponse:
    """A reply (or a body built from replies) as the response. A Response is sent as it is:
    the route's response_model documents the body (proto_models) without a second pass over
    it. `status_code` repeats the route's own (FastAPI applies that only to plain returns)."""
    return JSONResponse(to_json(body) if isinstance(body, Message) else body,
                        status_code=status_code)


def from_json(data: dict[str, Any], message_class: type[M]) -> M:
    """A request message from a validated body (proto field names; enum values by name). What
    the body's model lets through but the message cannot hold (two fields of one oneof) is 400."""
    try:
        return ParseDict(data, message_class())
    except ParseError as err:
        raise Problem(400, "invalid-argument", f"the request body does not fit {message_class.__name__}: {err}",
                      [{"field": "body", "rule": "invalid", "message": str(err)}]) from None
