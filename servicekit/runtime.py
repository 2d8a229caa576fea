"""A service's runtime: its settings, database and outbox, shared by its api and worker.

Use cases receive a Session; when they change state and something should be announced, they call
``runtime.emit(session, type, message)`` *in the same transaction*: the outbox relay publishes
after commit, so a state change is never announced without being stored, nor stored unannounced.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from google.protobuf.message import Message
from sqlalchemy import event as sa_event
from sqlalchemy.orm import DeclarativeBase, Session

from . import tracing
from .config import Settings
from .db import make_engine, make_sessionmaker, transaction
from .events import make_envelope


class Runtime:
    def __init__(self, service: str, base: type[DeclarativeBase], settings: Settings | None = None):
        self.name = service
        self.settings = settings or Settings.load(service)
        self.metadata = base.metadata
        self.engine = make_engine(self.settings.database_url, pool_size=self.settings.db_pool_size,
                                  max_overflow=self.settings.db_max_overflow,
                                  pre_ping=self.settings.db_pre_ping)
        self.sessions = make_sessionmaker(self.engine)
        self.outbox_table = self.metadata.tables["outbox"]
        self.inbox_table = self.metadata.tables["inbox"]
        self._outbox_insert = self.outbox_table.insert()  # built once; parameters per event
        # Set after a commit that wrote outbox rows: wakes the relay without waiting for its poll.
        self.outbox_signal = threading.Event()
        sa_event.listen(self.sessions, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("outbox_dirty", False):
            self.outbox_signal.set()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def emit(self, session: Session, event_type: str, data: Message | dict, *,
             event_id: str | None = None) -> dict:
        """Adds an event to the outbox in `session`'s transaction; returns its envelope."""
        envelope = make_envelope(self.name, event_type, data, event_id=event_id)
        now = datetime.now(timezone.utc)
        session.execute(self._outbox_insert, {
            "event_id": envelope["id"], "event_type": event_type,
            "body": json.dumps(envelope, ensure_ascii=False, separators=(",", ":")),
            "headers": json.dumps(tracing.inject_headers()), "created_at": now, "attempts": 0})
        session.info["outbox_dirty"] = True
        return envelope

    def dispose(self) -> None:
        self.engine.dispose()
