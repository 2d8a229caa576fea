from datetime import datetime

from google.protobuf.message import Message

from servicekit.events import Event, make_envelope


def event(source: str, event_type: str, data: Message | dict, *, event_id: str | None = None,
          occurred_at: datetime | None = None, message_type=None) -> Event:
    """An event as a worker handler receives it (parsed from the envelope a relay publishes)."""
    envelope = make_envelope(source, event_type, data, event_id=event_id, occurred_at=occurred_at)
    return Event.parse(envelope, message_type)
