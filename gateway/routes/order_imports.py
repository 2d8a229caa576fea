"""Order import over HTTP, one set of routes built twice: for partner ERPs
(/partner/v1/order-imports, signed requests) and for staff (/v1/admin/order-imports, admin or
operator, who name the partner). Both call the order service's import part (OrderImport,
MALL_ORDER_IMPORT_GRPC_TARGET); the service decides what each caller may see.

No `from __future__ import annotations` here: the routes are built in a function and FastAPI
must see their body models (local names) as classes, not strings."""

from pathlib import PurePath
from typing import Callable

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from mall.order.v1 import order_import_pb2 as pb
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth, partner_auth
from ..convert import answer
from ..problems import Problem
from ..proto_models import model_of
from ..schemas import IDEMPOTENT, MAX_ID, Id, Label, Word
from ..services import BATCH_DEADLINE, FILE_DEADLINE, OrderImport
from ..streams import file_response
from ..uploads import Upload, file_chunks, read_upload

POLICIES = ("reject_file", "import_valid")


class ProfileBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    column_map: dict[Label, Label] = Field(default_factory=dict, max_length=100,
                                           description="their header -> our column")
    sku_map: dict[Label, Id] = Field(default_factory=dict, max_length=10_000,
                                     description="their code -> our SKU")
    status_map: dict[Label, Word] = Field(default_factory=dict, max_length=100,
                                       description="their status -> paid | shipped | completed")
    deduct_stock: bool = False


class StaffProfileBody(ProfileBody):
    partner: str = Field(min_length=1, max_length=64)


def _flag(value: str, field: str) -> bool:
    lowered = value.lower()
    if lowered in ("", "false", "0", "no"):
        return False
    if lowered in ("true", "1", "yes"):
        return True
    raise Problem(400, "invalid-argument", f"{field} must be true or false (got {value!r})",
                  [{"field": field, "rule": "boolean", "message": "true | false"}])


def upload_meta(upload: Upload, partner: str) -> pb.UploadMeta:
    policy = upload.field("error_policy")
    if policy and policy not in POLICIES:
        raise Problem(400, "invalid-argument",
                      f"error_policy {policy!r} is not one of {', '.join(POLICIES)}",
                      [{"field": "error_policy", "rule": "one_of", "message": " | ".join(POLICIES)}])
    filename = PurePath(upload.file.filename or "upload").name
    suffix = PurePath(filename).suffix.lower().lstrip(".")
    return pb.UploadMeta(filename=filename, format_hint=suffix if suffix in ("csv", "xlsx") else "",
                         partner=partner, profile=upload.field("profile"),
                         dry_run=_flag(upload.field("dry_run"), "dry_run"), error_policy=policy)


async def send_upload(order_import: OrderImport, upload: Upload, partner: str) -> pb.ImportJob:
    """The spooled file streamed to OrderImport.UploadFile in chunks; answers the new job."""
    try:
        meta = upload_meta(upload, partner)

        async def messages():
            yield pb.UploadChunk(meta=meta)
            async for data in file_chunks(upload):
                yield pb.UploadChunk(data=data)

        return await order_import.UploadFile(messages(), timeout=FILE_DEADLINE)
    finally:
        await upload.form.close()


def build_router(prefix: str, tag: str, identity: Callable, upload: Callable,
                 staff: bool) -> APIRouter:
    """`identity`: the dependency admitting the caller on every route but the upload, which
    `upload` admits (it reads the body itself). Staff routes take the partner as a field."""
    router = APIRouter(prefix=prefix, tags=[tag])
    who = "the partner (required)" if staff else "ignored: always the signed partner"

    @router.post("", status_code=202, responses={413: {"description": "over the size limit"}},
                 dependencies=[IDEMPOTENT],
                 summary="Upload a CSV or .xlsx file of orders (multipart: "
                 "file, dry_run, error_policy, profile" + (", partner" if staff else "") + ")",
                 response_model=model_of(pb.ImportJob))
    async def upload_import_file(order_import: OrderImport,
                                 received: Upload = Depends(upload)) -> Response:
        job = await send_upload(order_import, received, received.field("partner") if staff else "")
        return answer(job, 202)

    @router.get("", summary="Import jobs, newest first", dependencies=[Depends(identity)],
                response_model=model_of(pb.ListImportJobsResponse))
    async def list_import_jobs(order_import: OrderImport, limit: int = Query(20, ge=1, le=100),
                               partner: str = Query("", max_length=MAX_ID, description=who)) -> Response:
        return answer(await order_import.ListImportJobs(
            pb.ListImportJobsRequest(partner=partner if staff else "", limit=limit)))

    @router.get("/template", summary="The mall's template (Chinese and English headers)",
                response_class=StreamingResponse, dependencies=[Depends(identity)])
    async def get_import_template(order_import: OrderImport,
                                  format: str = Query("csv", max_length=8, description="csv | xlsx")):
        return await file_response(order_import.GetImportTemplate(
            pb.GetImportTemplateRequest(format=format), timeout=BATCH_DEADLINE))

    @router.get("/profiles", summary="Saved column-mapping profiles",
                dependencies=[Depends(identity)],
                response_model=model_of(pb.ListImportProfilesResponse))
    async def list_import_profiles(order_import: OrderImport,
                                   partner: str = Query("", max_length=MAX_ID, description=who)) -> Response:
        return answer(await order_import.ListImportProfiles(
            pb.ListImportProfilesRequest(partner=partner if staff else "")))

    body_model = StaffProfileBody if staff else ProfileBody

    @router.put("/profiles", summary="Save (create or replace) a column-mapping profile",
                dependencies=[Depends(identity)], response_model=model_of(pb.ImportProfile))
    async def save_import_profile(order_import: OrderImport, body: body_model) -> Response:  # type: ignore[valid-type]
        fields = body.model_dump()  # type: ignore[attr-defined]
        return answer(await order_import.SaveImportProfile(pb.ImportProfile(**fields)))

    @router.get("/{job_id}", summary="A job's status and counts", dependencies=[Depends(identity)],
                response_model=model_of(pb.ImportJob))
    async def get_import_job(job_id: Id, order_import: OrderImport) -> Response:
        return answer(await order_import.GetImportJob(pb.GetImportJobRequest(job_id=job_id)))

    @router.get("/{job_id}/report", summary="Every row with its status and errors, streamed",
                response_class=StreamingResponse, dependencies=[Depends(identity)])
    async def get_import_report(job_id: Id, order_import: OrderImport,
                                format: str = Query("csv", max_length=8, description="csv | xlsx"),
                                problems_only: bool = Query(False, description="only rows to fix")):
        return await file_response(order_import.GetImportReport(pb.GetImportReportRequest(
            job_id=job_id, format=format, problems_only=problems_only), timeout=FILE_DEADLINE))

    return router


async def signed_upload(request: Request,
                        _: None = Depends(partner_auth.documented)) -> Upload:
    """The partner's upload, read (hashed, spooled, size-checked) before its signature is
    verified: the signature covers the body's hash."""
    partner_auth.signature_headers(request)
    received = await read_upload(request)
    try:
        await partner_auth.verify(request, received.body_sha256)
    except BaseException:
        await received.form.close()
        raise
    return received


async def staff_upload(request: Request,
                       _: auth.Principal = Depends(auth.staff(*roles.MERCHANDISERS))) -> Upload:
    return await read_upload(request)


partner_router = build_router("/partner/v1/order-imports", "partner-order-imports",
                              partner_auth.partner, signed_upload, staff=False)
staff_router = build_router("/v1/admin/order-imports", "admin-order-imports",
                            auth.staff(*roles.MERCHANDISERS), staff_upload, staff=True)
