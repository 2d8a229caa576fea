"""The event envelope: ``{"id", "type", "source", "occurred_at", "data"}`` where ``data`` is the
proto3 JSON of the event's message in ``protos/mall/events/v1``.

Published to the topic exchange ``<source>.events`` with routing key = the event type, which is
nameko's own convention, so ``@on_event("<source>", "<type>", Message)`` receives it.
"""
from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from .times import parse_rfc3339, rfc3339, utcnow

M = TypeVar("M", bound=Message)


def exchange_name(source: str) -> str:
    return f"{source}.events"


def message_to_data(message: Message | dict) -> dict:
    if isinstance(message, dict):
        return message
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def make_envelope(source: str, event_type: str, data: Message | dict, *, event_id: str | None = None,
                  occurred_at: datetime | None = None) -> dict:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "occurred_at": rfc3339(occurred_at or utcnow()),
        "data": message_to_data(data),
    }


@dataclass(frozen=True)
class Event(Generic[M]):
    """What a handler receives: the envelope, with `data` parsed into the handler's message type
    (unknown fields ignored, so producers can add fields without breaking consumers)."""
    id: str
    type: str
    source: str
    occurred_at: datetime
    data: M
    raw: dict

    @classmethod
    def parse(cls, body: Any, message_type: builtins.type[M] | None) -> "Event[M]":  # field `type` shadows it
        if isinstance(body, (bytes, str)):
            body = json.loads(body)
        for key in ("id", "type", "source", "occurred_at", "data"):
            if key not in body:
                raise ValueError(f"event envelope lacks {key!r}")
        data = body["data"]
        if message_type is not None:
            data = json_format.ParseDict(body["data"], message_type(), ignore_unknown_fields=True)
        return cls(id=str(body["id"]), type=body["type"], source=body["source"],
                   occurred_at=parse_rfc3339(body["occurred_at"]), data=data, raw=body)
