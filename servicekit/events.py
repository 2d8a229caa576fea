"""The event envelope: ``{"id", "type", "source", "occurred_at", "data"}`` where ``data`` is the
proto3 JSON of the event's message in ``protos/mall/events/v1``, and, when the message carries
personal fields, ``"sealed"``: those fields taken out of ``data`` and encrypted (servicekit.sealing).

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

from . import sealing
from .pii import Cipher
from .times import parse_rfc3339, rfc3339, utcnow

M = TypeVar("M", bound=Message)


def exchange_name(source: str) -> str:
    return f"{source}.events"


def message_to_data(message: Message | dict) -> dict:
    if isinstance(message, dict):
        return message
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def make_envelope(source: str, event_type: str, data: Message | dict, *, event_id: str | None = None,
                  occurred_at: datetime | None = None, sealer: Cipher | None = None) -> dict:
    """The envelope of `data`, its personal fields sealed under `sealer`, else the events key of
    `source` (a dict is written as given: its producer must keep personal fields out of it)."""
    envelope = {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "occurred_at": rfc3339(occurred_at or utcnow()),
        "data": message_to_data(data),
    }
    if isinstance(data, Message):
        sealing.seal(envelope, data.DESCRIPTOR, sealer)
    return envelope


@dataclass(frozen=True)
class Event(Generic[M]):
    """What a handler receives: the envelope, with `data` parsed into the handler's message type
    (unknown fields ignored, so producers can add fields without breaking consumers). Personal
    fields are in `data` only for a `reader` holding the events key; `raw` never has them."""
    id: str
    type: str
    source: str
    occurred_at: datetime
    data: M
    raw: dict

    @classmethod
    def parse(cls, body: Any, message_type: builtins.type[M] | None,  # field `type` shadows it
              reader: str | None = None) -> "Event[M]":
        """`reader`: the service handling it, which gets the personal fields if it holds the key."""
        if isinstance(body, (bytes, str)):
            body = json.loads(body)
        for key in ("id", "type", "source", "occurred_at", "data"):
            if key not in body:
                raise ValueError(f"event envelope lacks {key!r}")
        data = body["data"]
        if message_type is not None:
            body, opened = sealing.open_for(reader, body, message_type.DESCRIPTOR)
            data = json_format.ParseDict(opened, message_type(), ignore_unknown_fields=True)
        return cls(id=str(body["id"]), type=body["type"], source=body["source"],
                   occurred_at=parse_rfc3339(body["occurred_at"]), data=data, raw=body)
