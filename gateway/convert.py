"""Protobuf messages to JSON bodies: field names as in the proto (snake_case), int64 as JSON
integers (money in fen stays an integer), fields at their default values included."""
from __future__ import annotations

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message


def to_json(message: Message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True,
                         always_print_fields_with_no_presence=True,
                         unquote_int64_if_possible=True)


def from_json(data: dict, message_class: type[Message]) -> Message:
    """A request message from a validated body (proto field names; enum values by name)."""
    from google.protobuf.json_format import ParseDict
    return ParseDict(data, message_class())
