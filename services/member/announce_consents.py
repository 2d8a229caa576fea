"""Announces every member's current consents again, as `member.consent_changed`:

    PYTHONPATH=.:gen python -m services.member.announce_consents

For consents recorded before member announced them, and for a service that starts keeping the
read model (servicekit.consents) after members had spoken. Each event carries the version of the
record it announces, so a consumer that already knows it (or something newer) changes nothing:
safe to run any time, as often as needed. Deleted members are left out: nothing is sent to them.
"""
from __future__ import annotations

from mall.events.v1 import member_events_pb2
from sqlalchemy import func, select

from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from .models import ConsentRecord, Member

BATCH = 500


def announce_current(runtime: Runtime) -> int:
    """One event per (member, purpose), the latest record's word; returns how many."""
    latest = (select(func.max(ConsentRecord.id).label("id"))
              .group_by(ConsentRecord.member_id, ConsentRecord.purpose).subquery())
    announced, after = 0, 0
    while True:
        with runtime.transaction() as session:
            records = list(session.scalars(
                select(ConsentRecord).join(latest, latest.c.id == ConsentRecord.id)
                .join(Member, Member.id == ConsentRecord.member_id)
                .where(ConsentRecord.id > after, Member.deleted_at.is_(None))
                .order_by(ConsentRecord.id).limit(BATCH)))
            for record in records:
                runtime.emit(session, "member.consent_changed", member_events_pb2.ConsentChanged(
                    member_id=record.member_id, purpose=record.purpose, granted=record.granted,
                    changed_at=rfc3339(record.recorded_at), version=record.id))
        announced += len(records)
        if len(records) < BATCH:
            return announced
        after = records[-1].id


def main() -> None:
    from servicekit import service

    print(f"announced {announce_current(service.runtime('member'))} current consents")


if __name__ == "__main__":
    main()
