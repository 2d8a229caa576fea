"""gRPC OrderImport: the order-import process (`python -m servicekit api order --part import`,
port 50059), the same code and database as order's api, its own process so a large import never
slows a checkout. See importing/ for the work and the README for the rules."""
from __future__ import annotations

import csv
import io

import grpc
from mall.order.v1 import order_import_pb2 as pb
from mall.order.v1 import order_import_pb2_grpc
from sqlalchemy import select

from servicekit import idempotency, roles
from servicekit.context import current, require_roles
from servicekit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from .importing import columns, jobs, profiles, report
from .importing.members import MemberMatcher
from .models import ImportJob, ImportProfile

PARTNER = "partner"
CHUNK = 64 * 1024


def caller_and_partner(partner: str, action: str) -> tuple[str, str]:
    """(caller, partner) for a request naming `partner`: staff name any, a partner only theirs."""
    ctx = require_roles(*roles.MERCHANDISERS, PARTNER, action=action)
    if ctx.has_role(*roles.MERCHANDISERS):
        return f"staff:{ctx.user_id}", partner.strip()
    if partner and partner != ctx.user_id:
        raise PermissionDenied(f"a partner imports only its own orders ({ctx.user_id}), not "
                               f"{partner}'s")
    return f"partner:{ctx.user_id}", ctx.user_id


def scope_partner(action: str) -> str | None:
    """None for staff (every partner); the caller's own id for a partner."""
    ctx = require_roles(*roles.MERCHANDISERS, PARTNER, action=action)
    return None if ctx.has_role(*roles.MERCHANDISERS) else ctx.user_id


def job_view(job: ImportJob) -> pb.ImportJob:
    return pb.ImportJob(
        job_id=job.id, partner=job.partner, status=job.status, filename=job.filename,
        format=job.format, encoding=job.encoding, dry_run=job.dry_run,
        error_policy=job.error_policy, profile=job.profile, problem_rule=job.problem_rule,
        problem=job.problem, unknown_columns=list(job.unknown_columns or ()),
        created_at=rfc3339(job.created_at), finished_at=rfc3339(job.finished_at),
        finished=job.status in jobs.FINISHED, size_bytes=job.size_bytes,
        counts=pb.ImportCounts(
            rows_total=job.rows_total, rows_valid=job.rows_valid, rows_error=job.rows_error,
            rows_blocked=job.rows_blocked, rows_imported=job.rows_imported,
            rows_skipped=job.rows_skipped, orders_total=job.orders_total,
            orders_imported=job.orders_imported, orders_skipped=job.orders_skipped,
            orders_invalid=job.orders_invalid))


def profile_view(row: ImportProfile) -> pb.ImportProfile:
    return pb.ImportProfile(partner=row.partner, name=row.name, column_map=row.column_map,
                            sku_map=row.sku_map, status_map=row.status_map,
                            deduct_stock=row.deduct_stock, updated_at=rfc3339(row.updated_at))


def _stream(parts, content_type: str, filename: str):
    """Chunks of at most CHUNK bytes, the first naming the content."""
    buffered, sent_first = b"", False
    for part in parts:
        buffered += part
        while len(buffered) >= CHUNK:
            piece, buffered = buffered[:CHUNK], buffered[CHUNK:]
            yield pb.FileChunk(data=piece, **({} if sent_first else
                                              {"content_type": content_type, "filename": filename}))
            sent_first = True
    if buffered or not sent_first:
        yield pb.FileChunk(data=buffered, **({} if sent_first else
                                             {"content_type": content_type, "filename": filename}))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def _format(value: str, field: str) -> str:
    value = value or "csv"
    if value not in ("csv", "xlsx"):
        raise InvalidArgument.field(field, "one_of", "csv or xlsx")
    return value


class OrderImportService(order_import_pb2_grpc.OrderImportServicer):
    def __init__(self, runtime: Runtime, runner: jobs.Runner | None = None):
        self.runtime = runtime
        self.runner = runner or jobs.Runner(runtime, MemberMatcher())

    def _accept(self, meta: pb.UploadMeta, chunks) -> pb.ImportJob:
        caller, partner = caller_and_partner(meta.partner, "importing orders")
        key = current().idempotency_key
        idempotency.check_key(key)
        request = jobs.Request(partner=partner, caller=caller, filename=meta.filename,
                               format_hint=meta.format_hint, profile=meta.profile,
                               dry_run=meta.dry_run, error_policy=meta.error_policy or "reject_file",
                               idempotency_key=key)
        jobs.check_request(request)
        path, size, sha256 = jobs.spool(chunks)
        try:
            job, new = jobs.accept(self.runtime, request, path, size, sha256)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if new:
            self.runner.submit(job.id, path)
        else:
            path.unlink(missing_ok=True)
        return job_view(job)

    def UploadFile(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "meta":
            raise InvalidArgument.field("meta", "first", "the first message carries the upload's "
                                                         "meta (filename, partner, policy ...), "
                                                         "then the file's bytes")
        return self._accept(first.meta, (m.data for m in request_iterator
                                         if m.WhichOneof("part") == "data"))

    def ImportRows(self, request, context):
        def encoded():
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(request.header.cells)
            for row in request.rows:
                writer.writerow(row.cells)
                if out.tell() > CHUNK:
                    yield out.getvalue().encode("utf-8")
                    out.seek(0)
                    out.truncate()
            yield out.getvalue().encode("utf-8")

        if not request.header.cells:
            raise InvalidArgument.field("header", "required", "the header row names the columns, "
                                                              "as in the template")
        return self._accept(request.meta, encoded())

    def GetImportJob(self, request, context):
        partner = scope_partner("import jobs")
        with self.runtime.transaction() as session:
            return job_view(jobs.get_job(session, request.job_id, partner))

    def ListImportJobs(self, request, context):
        partner = scope_partner("import jobs")
        limit = min(request.limit or 20, 100)
        query = select(ImportJob).order_by(ImportJob.created_at.desc()).limit(limit)
        if partner is not None or request.partner:
            query = query.where(ImportJob.partner == (partner or request.partner))
        with self.runtime.transaction() as session:
            return pb.ListImportJobsResponse(jobs=[job_view(j) for j in session.scalars(query)])

    def GetImportReport(self, request, context):
        partner = scope_partner("import reports")
        fmt = _format(request.format, "format")
        with self.runtime.transaction() as session:
            job = jobs.get_job(session, request.job_id, partner)
            if job.status not in jobs.FINISHED:
                raise FailedPrecondition(f"import job {job.id} is still {job.status}: ask for the "
                                         "report once it is finished (GetImportJob)")
            name = f"import-report-{job.id[:8]}.{fmt}"
            parts = (report.xlsx_report if fmt == "xlsx" else report.csv_report)(
                session, job, request.problems_only)
            yield from _stream(parts, XLSX if fmt == "xlsx" else CSV, name)

    def GetImportTemplate(self, request, context):
        fmt = _format(request.format, "format")
        data = columns.template_xlsx() if fmt == "xlsx" else columns.template_csv()
        yield from _stream([data], XLSX if fmt == "xlsx" else CSV, f"order-import-template.{fmt}")

    def SaveImportProfile(self, request, context):
        caller, partner = caller_and_partner(request.partner, "mapping profiles")
        with self.runtime.transaction() as session:
            return profile_view(profiles.save(session, request, partner=partner, caller=caller))

    def ListImportProfiles(self, request, context):
        partner = scope_partner("mapping profiles")
        query = select(ImportProfile).order_by(ImportProfile.partner, ImportProfile.name)
        if partner is not None or request.partner:
            query = query.where(ImportProfile.partner == (partner or request.partner))
        with self.runtime.transaction() as session:
            return pb.ListImportProfilesResponse(profiles=[profile_view(p)
                                                           for p in session.scalars(query)])


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    order_import_pb2_grpc.add_OrderImportServicer_to_server(OrderImportService(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["OrderImport"].full_name]
