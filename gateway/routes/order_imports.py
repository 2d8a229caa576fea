"""Order import over HTTP, one set of routes built twice: for partner ERPs
(/partner/v1/order-imports, signed requests) and for staff (/v1/admin/order-imports, admin or
operator, who name the partner). Both call the order service's import part (OrderImport,
MALL_ORDER_IMPORT_GRPC_TARGET); the service decides what each caller may see.

No `from __future__ import annotations` here: the routes are built in a function and FastAPI
must see their body models (local names) as classes, not strings."""

from pathlib import PurePath
from typing import Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from mall.order.v1 import order_import_pb2 as pb
from mall.order.v1 import order_import_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth, partner_auth
from ..convert import to_json
from ..problems import Problem
from ..streams import file_response
from ..uploads import Upload, file_chunks, read_upload

UPLOAD_TIMEOUT = 600.0
POLICIES = ("reject_file", "import_valid")


class ProfileBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    column_map: dict[str, str] = Field(default_factory=dict,
                                       description="their header -> our column")
    sku_map: dict[str, str] = Field(default_factory=dict, description="their code -> our SKU")
    status_map: dict[str, str] = Field(default_factory=dict,
                                       description="their status -> paid | shipped | completed")
    deduct_stock: bool = False


class StaffProfileBody(ProfileBody):
    partner: str = Field(min_length=1, max_length=64)


def _stub(request: Request) -> order_import_pb2_grpc.OrderImportStub:
    return request.app.state.clients.stub("order", order_import_pb2_grpc.OrderImportStub,
                                          part="import")


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


async def send_upload(request: Request, upload: Upload, partner: str) -> dict:
    """The spooled file streamed to OrderImport.UploadFile in chunks; answers the new job."""
    try:
        meta = upload_meta(upload, partner)

        async def messages():
            yield pb.UploadChunk(meta=meta)
            async for data in file_chunks(upload):
                yield pb.UploadChunk(data=data)

        job = await _stub(request).UploadFile(messages(), timeout=UPLOAD_TIMEOUT)
    finally:
        await upload.form.close()
    return to_json(job)


def build_router(prefix: str, tag: str, identity: Callable, upload: Callable,
                 staff: bool) -> APIRouter:
    """`identity`: the dependency admitting the caller on every route but the upload, which
    `upload` admits (it reads the body itself). Staff routes take the partner as a field."""
    router = APIRouter(prefix=prefix, tags=[tag])
    who = "the partner (required)" if staff else "ignored: always the signed partner"

    @router.post("", status_code=202, responses={413: {"description": "over the size limit"}},
                 summary="Upload a CSV or .xlsx file of orders (multipart: "
                 "file, dry_run, error_policy, profile" + (", partner" if staff else "") + ")")
    async def create(request: Request, received: Upload = Depends(upload)) -> dict:
        return await send_upload(request, received, received.field("partner") if staff else "")

    @router.get("", summary="Import jobs, newest first", dependencies=[Depends(identity)])
    async def list_jobs(request: Request, limit: int = Query(20, ge=1, le=100),
                        partner: str = Query("", description=who)) -> dict:
        return to_json(await request.app.state.clients.call(_stub(request).ListImportJobs,
                       pb.ListImportJobsRequest(partner=partner if staff else "", limit=limit)))

    @router.get("/template", summary="The mall's template (Chinese and English headers)",
                response_class=StreamingResponse, dependencies=[Depends(identity)])
    async def template(request: Request, format: str = Query("csv", description="csv | xlsx")):
        return await file_response(_stub(request).GetImportTemplate(
            pb.GetImportTemplateRequest(format=format), timeout=60))

    @router.get("/profiles", summary="Saved column-mapping profiles",
                dependencies=[Depends(identity)])
    async def list_profiles(request: Request, partner: str = Query("", description=who)) -> dict:
        return to_json(await request.app.state.clients.call(_stub(request).ListImportProfiles,
                       pb.ListImportProfilesRequest(partner=partner if staff else "")))

    body_model = StaffProfileBody if staff else ProfileBody

    @router.put("/profiles", summary="Save (create or replace) a column-mapping profile",
                dependencies=[Depends(identity)])
    async def save_profile(request: Request, body: body_model) -> dict:
        fields = body.model_dump()
        return to_json(await request.app.state.clients.call(
            _stub(request).SaveImportProfile, pb.ImportProfile(**fields)))

    @router.get("/{job_id}", summary="A job's status and counts", dependencies=[Depends(identity)])
    async def get_job(job_id: str, request: Request) -> dict:
        return to_json(await request.app.state.clients.call(
            _stub(request).GetImportJob, pb.GetImportJobRequest(job_id=job_id)))

    @router.get("/{job_id}/report", summary="Every row with its status and errors, streamed",
                response_class=StreamingResponse, dependencies=[Depends(identity)])
    async def report(job_id: str, request: Request,
                     format: str = Query("csv", description="csv | xlsx"),
                     problems_only: bool = Query(False, description="only rows to fix")):
        return await file_response(_stub(request).GetImportReport(pb.GetImportReportRequest(
            job_id=job_id, format=format, problems_only=problems_only), timeout=UPLOAD_TIMEOUT))

    return router


async def signed_upload(request: Request) -> Upload:
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
                       _: auth.Principal = Depends(auth.staff(auth.ADMIN, auth.OPERATOR))) -> Upload:
    return await read_upload(request)


partner_router = build_router("/partner/v1/order-imports", "partner-order-imports",
                              partner_auth.partner, signed_upload, staff=False)
staff_router = build_router("/v1/admin/order-imports", "admin-order-imports",
                            auth.staff(auth.ADMIN, auth.OPERATOR), staff_upload, staff=True)
