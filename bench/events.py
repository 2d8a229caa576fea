"""Outbox → relay (pika, publisher confirms) → RabbitMQ → nameko worker with the inbox → database,
on PostgreSQL when it answers. Events are written to the outbox at a steady offered rate; each
handled event records when it was handled, so lag = handled_at − occurred_at.

Last line: events rate_per_s=N p99_lag_ms=N lost=N duplicated=N
(target: >= 1,000 events/s, p99 lag < 1,000 ms, lost=0, duplicated=0)
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from servicekit import testing  # noqa: E402
from servicekit.outbox import OutboxRelay  # noqa: E402
from servicekit.tests import kitdemo  # noqa: E402

OFFERED_PER_S = int(os.environ.get("BENCH_EVENTS_PER_S", "1100"))  # sustained; ceiling here ~1,070 per s
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
BATCH = 50  # events per producer transaction
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))  # replicas of the worker: competing consumers


def main() -> None:
    testing.prepare_environment()
    os.environ["MALL_SERVICE_PACKAGES"] = f"{kitdemo.NAME}=servicekit.tests.kitdemo"
    workers = []
    relay = None
    try:
        testing.ensure_database(kitdemo.NAME)
        rt = testing.service.runtime(kitdemo.NAME)
        from servicekit.tests.kitdemo.models import Note

        workers = [testing.WorkerProcess(kitdemo.NAME).start() for _ in range(WORKERS)]
        relay = OutboxRelay(rt, poll_seconds=0.05)
        relay.start()
        relay.connected.wait(10)

        total = int(OFFERED_PER_S * SECONDS)
        started = time.monotonic()
        sent = 0
        while sent < total:  # a steady offered load: BATCH events every BATCH/OFFERED seconds
            with rt.transaction() as session:
                for _ in range(min(BATCH, total - sent)):
                    rt.emit(session, "note.written", {"text": f"e{sent}"})
                    sent += 1
            pause = started + sent / OFFERED_PER_S - time.monotonic()
            if pause > 0:
                time.sleep(pause)

        def handled() -> int:
            with rt.transaction() as s:
                return s.scalar(select(func.count(func.distinct(Note.event_id))))

        deadline = time.monotonic() + 60
        while handled() < total and time.monotonic() < deadline:
            time.sleep(0.1)
        with rt.transaction() as s:
            rows = s.execute(select(Note.event_id, Note.occurred_at, Note.handled_at)).all()
        distinct = {r.event_id for r in rows}
        lags = sorted((r.handled_at - r.occurred_at).total_seconds() * 1000 for r in rows)
        first = min(r.occurred_at for r in rows)
        last = max(r.handled_at for r in rows)
        rate = len(distinct) / (last - first).total_seconds()
        p99 = lags[int(len(lags) * 0.99) - 1] if lags else float("nan")
        with rt.transaction() as s:
            relayed = sorted((p - c).total_seconds() * 1000 for c, p in s.execute(
                select(rt.outbox_table.c.created_at, rt.outbox_table.c.published_at)).all())
        print(f"outbox -> broker: p50 {relayed[len(relayed) // 2]:.0f} ms, "
              f"p99 {relayed[int(len(relayed) * 0.99) - 1]:.0f} ms")
        print(f"offered {OFFERED_PER_S}/s for {SECONDS:g}s: {total} events, {len(rows)} handled rows, "
              f"{WORKERS} worker process(es)")
        print(f"events rate_per_s={rate:.0f} p99_lag_ms={p99:.0f} lost={total - len(distinct)} "
              f"duplicated={len(rows) - len(distinct)}")
    finally:
        if relay:
            relay.stop()
        for worker in workers:
            worker.stop()
        testing.teardown_environment()


if __name__ == "__main__":
    main()
