"""On SQLite (the `make run` default) times read back aware, as on PostgreSQL: polling an import
job that is still running answers (a naive heartbeat made every poll fail)."""
from datetime import timedelta

from services.order.importing import jobs

from .import_helpers import accepted, csv_bytes, line


def test_a_running_import_job_can_be_polled_and_a_stalled_one_fails(sqlite_runtime_for,
                                                                   machine_in_shanghai):
    runtime = sqlite_runtime_for("order")
    job, _ = accepted(runtime, csv_bytes([line("S-1")]))
    with runtime.transaction() as session:
        assert jobs.get_job(session, job.id).status == "received"
    with runtime.transaction() as session:
        stalled = jobs.get_job(session, job.id, now=job.heartbeat_at + jobs.STALE_AFTER + timedelta(seconds=1))
        assert (stalled.status, stalled.problem_rule) == ("failed", "interrupted")
