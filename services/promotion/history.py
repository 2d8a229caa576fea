"""Who changed a campaign or a coupon template, when, and what: one row per create, edit, end or
retirement, each field as text before and after (the spec's field paths, as GetCampaign and
GetCouponTemplate show them), read newest first by staff."""
from __future__ import annotations

from datetime import datetime

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ChangeRecord

Change = tuple[str, str, str]  # field, before, after ("" for unset)


def fields_of(message: Message) -> dict[str, str]:
    """A message's set fields as {"ends_at": "2026-12-05T12:00:00Z", "flash_items[0].quota": "100",
    ...}: nested messages dotted, repeated fields indexed, every value as text."""
    flat: dict[str, str] = {}

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for n, inner in enumerate(value):
                walk(inner, f"{path}[{n}]")
        elif isinstance(value, bool):
            flat[path] = "true" if value else "false"
        else:
            flat[path] = str(value)

    walk(MessageToDict(message, preserving_proto_field_name=True), "")
    return flat


def diff(before: dict[str, str], after: dict[str, str]) -> list[Change]:
    """The fields whose text differs, in the order of `after` then the ones that went away."""
    changed = [(f, before.get(f, ""), v) for f, v in after.items() if before.get(f, "") != v]
    return changed + [(f, v, "") for f, v in before.items() if f not in after and v]


def record(session: Session, *, subject: str, subject_id: int, action: str, version: int,
           by: str, at: datetime, changes: list[Change]) -> ChangeRecord:
    row = ChangeRecord(subject=subject, subject_id=subject_id, action=action, version=version,
                       changed_by=by, changed_at=at, changes=[list(c) for c in changes])
    session.add(row)
    return row


def page(session: Session, subject: str, subject_id: int, limit: int,
         after_id: int | None) -> list[ChangeRecord]:
    """Newest first; `limit + 1` rows tell whether a next page exists."""
    query = (select(ChangeRecord)
             .where(ChangeRecord.subject == subject, ChangeRecord.subject_id == subject_id)
             .order_by(ChangeRecord.id.desc()).limit(limit + 1))
    if after_id is not None:
        query = query.where(ChangeRecord.id < after_id)
    return list(session.scalars(query))
