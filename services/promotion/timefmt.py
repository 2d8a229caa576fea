"""RFC 3339 strings (UTC, "Z") for events and JSON terms."""
from __future__ import annotations

from datetime import datetime, timezone


def rfc3339(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else ""


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
