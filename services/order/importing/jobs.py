"""An import job from an uploaded file to imported orders and a report.

1. `accept`: the upload is spooled to a temporary file (never held in memory, refused past the
   size limit), its format, encoding and header row are recognised (a file that cannot be read
   is refused at once and nothing is recorded but the job's problem), and a job is recorded
   under the caller's idempotency key.
2. `run` (a background thread of the import process), two passes over the file:
   - check: every row is parsed and checked, once; rows are tallied by external order id (what
     an order's lines must agree on, its total); ids already imported are looked up. Only a
     small record per order (its fields and a `Line` per good row) and the errors are kept in
     memory, never the cells.
   - write: the file is read again, only for each row's external id and, for rows not imported,
     its cells: each row's outcome is written (rows not imported keep their cells and errors,
     sealed, for the report), and, unless it is a dry run or the file is rejected (policy
     reject_file and any error), each error-free order is written from its tally when its last
     row comes by, in batches (store.py).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.config import env, env_int, order_import_max_bytes
from servicekit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from servicekit.runtime import Runtime

from ..checkout import sku_label
from ..models import ImportJob, ImportProfile, ImportRow, ProductSku
from ..privacy import cipher as order_cipher
from . import store
from .reading import FileProblem, open_file
from .rows import RowChecker, RowError, Sku, Tally
from .writer import Writer, open_row

log = logging.getLogger(__name__)

POLICIES = ("reject_file", "import_valid")
FINISHED = ("done", "rejected", "failed")
STALE_AFTER = timedelta(minutes=5)


def spool_dir() -> Path:
    path = Path(env("IMPORT_SPOOL_DIR", tempfile.gettempdir(), "order"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Request:
    """What the caller asked, once authorised (the partner is settled by the api)."""
    partner: str
    caller: str
    filename: str = ""
    format_hint: str = ""
    profile: str = ""
    dry_run: bool = False
    error_policy: str = "reject_file"
    idempotency_key: str = ""


@dataclass
class Profile:
    column_map: dict
    sku_map: dict
    status_map: dict
    deduct_stock: bool


def spool(chunks: Iterable[bytes], limit: int | None = None) -> tuple[Path, int, str]:
    """Writes chunks to a temporary file; (path, size, sha-256). Over the limit: refused."""
    limit = order_import_max_bytes() if limit is None else limit
    handle = tempfile.NamedTemporaryFile(dir=spool_dir(), prefix="order-import-", delete=False)
    digest, size = hashlib.sha256(), 0
    try:
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise InvalidArgument.field(
                        "file", "max_size", f"the file is over the limit of {limit // (1024 * 1024)} MB "
                        f"(文件超过 {limit // (1024 * 1024)} MB 上限): split it into several files")
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        os.unlink(handle.name)
        raise
    return Path(handle.name), size, digest.hexdigest()


def load_profile(session: Session, partner: str, name: str) -> Profile:
    if not name:
        return Profile({}, {}, {}, False)
    row = session.get(ImportProfile, (partner, name))
    if row is None:
        raise InvalidArgument.field("meta.profile", "exists",
                                    f"partner {partner} has no mapping profile {name!r}; save it "
                                    "first or leave the profile empty for the mall's template")
    return Profile(dict(row.column_map), dict(row.sku_map), dict(row.status_map), row.deduct_stock)


def check_request(req: Request) -> None:
    if req.error_policy not in POLICIES:
        raise InvalidArgument.field("meta.error_policy", "one_of",
                                    f"{req.error_policy!r} is not a policy: use reject_file (any "
                                    "error imports nothing) or import_valid (import every order "
                                    "without errors)")
    if not req.partner:
        raise InvalidArgument.field("meta.partner", "required", "name the partner whose orders "
                                                                "these are, e.g. acme-erp")


def accept(runtime: Runtime, req: Request, path: Path, size: int, sha256: str,
           now: datetime | None = None) -> tuple[ImportJob, bool]:
    """Records the job for a spooled file (True when new; the file is then the job's). A retry
    with the same key and file gets the same job; the same key with another file is refused."""
    now = now or datetime.now(timezone.utc)
    check_request(req)
    fingerprint = hashlib.sha256(json.dumps(
        [sha256, req.partner, req.profile, req.dry_run, req.error_policy]).encode()).hexdigest()

    def made_with_key(session: Session) -> ImportJob | None:
        return session.scalar(select(ImportJob).where(
            ImportJob.caller == req.caller, ImportJob.idempotency_key == req.idempotency_key))

    def same(done: ImportJob) -> bool:
        return done.request_fingerprint == fingerprint

    with runtime.transaction() as session:
        idempotency.check_key(req.idempotency_key)
        done = made_with_key(session) if req.idempotency_key else None
        if done is not None:  # a retry is answered before its file is read again
            idempotency.replay(done, key=req.idempotency_key, same=same(done))
            session.expunge(done)
            return done, False
        profile = load_profile(session, req.partner, req.profile)
    try:
        opened = open_file(path, filename=req.filename, hint=req.format_hint,
                           column_map=profile.column_map)
    except FileProblem as problem:
        raise InvalidArgument(problem.message, [FieldViolation("file", problem.rule,
                                                               problem.message)]) from None

    job = ImportJob(
        id=str(uuid.uuid4()), partner=req.partner, caller=req.caller, profile=req.profile,
        filename=req.filename[:200], format=opened.format, encoding=opened.encoding,
        size_bytes=size, dry_run=req.dry_run, error_policy=req.error_policy,
        deduct_stock=profile.deduct_stock, idempotency_key=req.idempotency_key or None,
        request_fingerprint=fingerprint, status="received",
        unknown_columns=opened.header.unknown, headers=opened.header.headers,
        created_at=now, heartbeat_at=now)
    with runtime.transaction() as session:  # a concurrent upload with the key may have won
        def create() -> ImportJob:
            session.add(job)
            return job

        job, new = idempotency.create_once(session, key=req.idempotency_key, create=create,
                                           find=lambda: made_with_key(session), same=same)
        session.flush()
        session.expunge(job)
    return job, new


class Runner:
    """Runs accepted jobs on a few background threads of the import process."""

    def __init__(self, runtime: Runtime, find_members: Callable[[list[str]], dict[str, str]] | None = None,
                 workers: int | None = None):
        self.runtime = runtime
        self.find_members = find_members
        self.pool = ThreadPoolExecutor(max_workers=workers or env_int("IMPORT_WORKERS", 2, "order"),
                                       thread_name_prefix="order-import")

    def submit(self, job_id: str, path: Path) -> None:
        self.pool.submit(self._run_logged, job_id, path)

    def _run_logged(self, job_id: str, path: Path) -> None:
        try:
            run(self.runtime, job_id, path, self.find_members)
        except FileProblem as problem:  # found past the first rows (too many rows): the report says
            with self.runtime.transaction() as session:
                session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    status="failed", problem_rule=problem.rule, problem=problem.message,
                    finished_at=datetime.now(timezone.utc)))
        except Exception:  # the job says so; the process carries on
            log.exception("import job %s failed", job_id)
            with self.runtime.transaction() as session:
                session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    status="failed", problem_rule="internal",
                    problem="导入过程中出现内部错误, 请重新上传 (an internal error stopped the "
                            "import; upload again: orders already imported are skipped)",
                    finished_at=datetime.now(timezone.utc)))
        finally:
            path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def sku_index(session: Session) -> Callable[[str], Sku | None]:
    """Every SKU of the read model by code and by id (thousands, not millions: kept per job)."""
    index: dict[str, Sku] = {}
    for row in session.scalars(select(ProductSku)):
        sku = Sku(row.sku_id, row.product_id, row.code, row.title, sku_label(row),
                  dict(row.attributes or {}), row.image_url, tuple(row.category_ids or ()))
        index[row.sku_id] = sku
        if row.code:
            index.setdefault(row.code, sku)
    return index.get


def run(runtime: Runtime, job_id: str, path: Path,
        find_members: Callable[[list[str]], dict[str, str]] | None = None,
        now: datetime | None = None) -> ImportJob:
    """Checks and (unless dry run or rejected) imports the job's file; the finished job."""
    cipher = order_cipher()
    with runtime.transaction() as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.status != "received":
            raise FailedPrecondition(f"import job {job_id} is not waiting to run")
        profile = load_profile(session, job.partner, job.profile)
        find_sku = sku_index(session)
        job.status, job.started_at = "validating", datetime.now(timezone.utc)
        partner, policy, dry_run = job.partner, job.error_policy, job.dry_run
        deduct_stock = job.deduct_stock
    opened = open_file(path, column_map=profile.column_map)
    checker = RowChecker(opened.header, find_sku, sku_map=profile.sku_map,
                         status_map=profile.status_map, now=now)

    # Pass 1: check every row, tally orders; keep only errors and one record per order.
    tally = Tally()
    row_errors: dict[int, list[RowError]] = {}
    rows_total = 0
    for row_no, cells in opened.rows():
        rows_total += 1
        parsed = checker.parse(row_no, cells)
        if parsed.errors:
            row_errors[row_no] = parsed.errors
        tally.add(parsed, opened.header)
    tally.finish(opened.header)
    for order in tally.orders.values():
        for row_no, found in order.errors.items():
            row_errors.setdefault(row_no, []).extend(found)
    with runtime.transaction() as session:
        earlier = store.already_imported(session, partner, list(tally.orders))
    invalid = {e for e in tally.orders if tally.has_errors(e)}
    rejected = bool(row_errors) and policy == "reject_file"
    importing = not dry_run and not rejected
    counts = {"rows_total": rows_total, "orders_total": len(tally.orders),
              "orders_invalid": len(invalid),
              "orders_skipped": len([e for e in earlier if e not in invalid])}
    with runtime.transaction() as session:
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
            status="importing" if importing else "validating",
            heartbeat_at=datetime.now(timezone.utc), **counts))

    # Pass 2: every row's outcome; error-free orders written in batches (writer.py).
    writer = Writer(runtime, job_id, partner, deduct_stock, find_members, cipher)
    try:
        for row_no, cells in opened.rows():
            parsed_errors = row_errors.get(row_no)
            external_id = checker.parse_id(cells)
            if parsed_errors:
                writer.row(row_no, "error", external_id, cells, parsed_errors)
            elif external_id in invalid or not external_id:
                writer.row(row_no, "blocked", external_id, cells, [RowError(
                    opened.header.header_of("external_order_id"), external_id, "order_has_errors",
                    f"本行无误,但订单 {external_id} 的其他行有错误,整单未导入;请改正该订单的其他行后一并重新上传")])
            elif external_id in earlier:
                writer.row(row_no, "skipped", external_id, None, [], order_no=earlier[external_id])
            elif not importing:
                writer.row(row_no, "valid", external_id, None, [])
            else:
                order = tally.orders[external_id]
                if row_no == order.rows[-1]:  # its last row: every line of the order is known
                    writer.order(store.ReadyOrder(external_id, order.order, order.lines))
        writer.flush()  # every batch written, or the failed one raises
    finally:
        writer.close()
    with runtime.transaction() as session:
        job = session.get(ImportJob, job_id)
        job.rows_error = len(row_errors)
        job.rows_blocked, job.rows_skipped = writer.counts["blocked"], writer.counts["skipped"]
        job.rows_imported = writer.counts["imported"]
        job.rows_valid = rows_total - job.rows_error - job.rows_blocked
        job.orders_imported = writer.orders_imported
        job.orders_skipped = counts["orders_skipped"] + writer.orders_raced
        job.status = "rejected" if rejected else "done"
        if rejected:
            job.problem_rule = "rows_invalid"
            job.problem = (f"{job.rows_error} 行有错误, 按 reject_file 策略整个文件未导入; 请按报告改正后"
                           f"重新上传 ({job.rows_error} rows have errors: nothing was imported)")
        job.finished_at = job.heartbeat_at = datetime.now(timezone.utc)
        session.flush()
        session.expunge(job)
    return job


def get_job(session: Session, job_id: str, partner: str | None = None,
            now: datetime | None = None) -> ImportJob:
    """A job (of `partner` when given: another partner's is NOT_FOUND); one whose heartbeat
    stopped (its process died) is failed now, so nobody waits for it forever."""
    job = session.get(ImportJob, job_id) if _is_uuid(job_id) else None
    if job is None or (partner is not None and job.partner != partner):
        raise NotFound(f"import job {job_id} not found")
    now = now or datetime.now(timezone.utc)
    if job.status not in FINISHED and job.heartbeat_at and job.heartbeat_at < now - STALE_AFTER:
        job.status, job.problem_rule, job.finished_at = "failed", "interrupted", now
        job.problem = ("导入进程中断, 请重新上传 (the import process stopped; upload the file "
                       "again: orders already imported are skipped)")
    return job


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def report_rows(session: Session, job: ImportJob, problems_only: bool = False,
                batch: int = 2000) -> Iterator[tuple[ImportRow, list, list[RowError]]]:
    """The job's rows in order, each with its opened cells and errors, a batch at a time."""
    cipher = order_cipher()
    last = 0
    while True:
        query = select(ImportRow).where(ImportRow.job_id == job.id, ImportRow.row_no > last)
        if problems_only:
            query = query.where(ImportRow.status.in_(("error", "blocked")))
        chunk = session.scalars(query.order_by(ImportRow.row_no).limit(batch)).all()
        for row in chunk:
            cells, errors = open_row(cipher, job.id, row.row_no, row.sealed)
            yield row, cells, errors
        if len(chunk) < batch:
            return
        last = chunk[-1].row_no

