"""A service's runtime: its settings, database and outbox, shared by its api and worker.

Use cases receive a Session; when they change state and something should be announced, they call
``runtime.emit(session, type, message)`` *in the same transaction*: the outbox relay publishes
after commit, so a state change is never announced without being stored, nor stored unannounced.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

from google.protobuf.message import Message
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Session

from . import tracing
from .config import Settings
from .db import is_postgres, make_engine, make_sessionmaker, transaction
from .events import make_envelope

log = logging.getLogger(__name__)


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
        # Set after a commit that wrote outbox rows; the relay clears it before each look.
        self.outbox_signal = threading.Event()
        self._outbox_wakers: list = []  # this process's relays (OutboxRelay.wake)
        # PostgreSQL: the channel the relays LISTEN on, NOTIFYed by a process without a relay
        # (the worker) when it commits outbox rows, so they go out at once, not at the next poll.
        self.outbox_channel = (f"mall_outbox_{re.sub(r'[^a-z0-9_]', '_', service.lower())}"
                               if is_postgres(self.engine) else None)
        self._notify = text(f'NOTIFY "{self.outbox_channel}"') if self.outbox_channel else None
        sa_event.listen(self.sessions, "before_commit", self._before_commit)
        sa_event.listen(self.sessions, "after_commit", self._after_commit)
        sa_event.listen(self.sessions, "after_rollback", self._after_rollback)

    def add_outbox_waker(self, wake) -> None:
        self._outbox_wakers.append(wake)

    def remove_outbox_waker(self, wake) -> None:
        if wake in self._outbox_wakers:
            self._outbox_wakers.remove(wake)

    def wake_outbox(self) -> None:
        """Rows were committed to the outbox: this process's relay looks now."""
        if not self.outbox_signal.is_set():  # already set: a wake-up is on its way
            self.outbox_signal.set()
            for wake in list(self._outbox_wakers):
                wake()

    def _before_commit(self, session: Session) -> None:
        # Delivered by PostgreSQL only if the transaction commits; repeats within one coalesce.
        if self._notify is not None and not self._outbox_wakers and session.info.get("outbox_dirty"):
            session.connection().execute(self._notify)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("outbox_dirty", False):
            self.wake_outbox()
        for call in session.info.pop("after_commit", []):
            try:
                call()
            except Exception:  # the decision is stored; its own retry (a timer) finishes it
                log.exception("a call after commit failed")

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop("after_commit", None)

    def after_commit(self, session: Session, call: Callable[[], object]) -> None:
        """Runs `call()` once `session`'s transaction has committed, never if it rolls back: the
        provider or carrier call that must follow a stored decision (a handler's refund). It runs
        outside the transaction; a failure is logged, so the decision needs a retry of its own."""
        session.info.setdefault("after_commit", []).append(call)

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
