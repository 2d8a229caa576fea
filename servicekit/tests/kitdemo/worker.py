"""Records every `note.written` event as a Note; text "poison" always fails (dead-letter path),
unless KITDEMO_CURED=1 (so a replay after the fix succeeds); text "away" meets a database that is
shutting down for as long as the file KITDEMO_AWAY_FILE exists (the transient path); text "hold"
touches KITDEMO_HOLD_FILE + ".<event id>.holding" and waits while KITDEMO_HOLD_FILE exists (a message in
hand while the test takes the broker away)."""
import os
import time
from datetime import datetime, timezone

from sqlalchemy import exc, insert

from servicekit.worker import EventWorker, on_event

from .models import Note

_NOTE_INSERT = insert(Note.__table__)


class Worker(EventWorker):
    name = "kitdemo"

    @on_event("kitdemo", "note.written")
    def record_note(self, session, event):
        if event.data.get("text") == "poison" and os.environ.get("KITDEMO_CURED") != "1":
            raise ValueError("cannot digest poison")
        away = os.environ.get("KITDEMO_AWAY_FILE")
        if event.data.get("text") == "away" and away and os.path.exists(away):
            raise exc.OperationalError("INSERT INTO note", {}, Exception(
                "terminating connection due to administrator command\n"
                "the database system is shutting down"))
        hold = os.environ.get("KITDEMO_HOLD_FILE")
        if event.data.get("text") == "hold" and hold:
            open(f"{hold}.{event.id}.holding", "a").close()
            while os.path.exists(hold):
                time.sleep(0.05)
        # One plain insert: the benchmark that uses this handler measures the plumbing around it.
        session.connection().execute(_NOTE_INSERT, {"event_id": event.id, "text": event.data.get("text", ""),
                                       "occurred_at": event.occurred_at,
                                       "handled_at": datetime.now(timezone.utc)})
