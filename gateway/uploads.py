"""A multipart upload read once: hashed (SHA-256 of the raw body, for partner signatures) and
counted as it streams in, its file part spooled to a temporary file by Starlette's parser, and
refused with 413 as soon as it passes the size limit (before the whole body has arrived)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from servicekit.config import order_import_max_bytes
from servicekit.ids import ascii_int

from .problems import Problem

# The file limit is order-import's (servicekit.config.order_import_max_bytes); the form's own
# fields and boundaries get a small allowance on top.
FORM_OVERHEAD = 64 * 1024
CHUNK = 256 * 1024


@dataclass
class Upload:
    form: FormData
    file: UploadFile
    body_sha256: str  # lowercase hex of the raw request body

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else default


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload-too-large",
                   f"the file is larger than the import limit of {limit} bytes; split it into "
                   "several files")


async def read_upload(request: Request) -> Upload:
    limit = order_import_max_bytes()
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Problem(400, "invalid-argument", "send the file as multipart/form-data with a "
                      "`file` part (and optional dry_run, error_policy, profile fields)",
                      [{"field": "file", "rule": "required", "message": "multipart/form-data"}])
    declared = request.headers.get("content-length", "")
    if ascii_int(declared) is not None and int(declared) > limit + FORM_OVERHEAD:
        raise _too_large(limit)
    digest, seen = hashlib.sha256(), 0

    async def hashed():
        nonlocal seen
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit + FORM_OVERHEAD:
                raise _too_large(limit)
            digest.update(chunk)
            yield chunk

    try:
        form = await MultiPartParser(request.headers, hashed(), max_files=1, max_fields=10).parse()
    except MultiPartException as err:
        raise Problem(400, "invalid-argument", f"the multipart body cannot be read: {err.message}",
                      [{"field": "file", "rule": "multipart", "message": err.message}]) from None
    file = form.get("file")
    if not isinstance(file, UploadFile):
        await form.close()
        raise Problem(400, "invalid-argument", "the form has no `file` part",
                      [{"field": "file", "rule": "required",
                        "message": "a CSV (UTF-8 or GBK) or .xlsx file"}])
    if (file.size or 0) > limit:
        await form.close()
        raise _too_large(limit)
    return Upload(form, file, digest.hexdigest())


async def file_chunks(upload: Upload):
    """The spooled file in CHUNK-sized pieces, for a client-streaming gRPC call."""
    await upload.file.seek(0)
    while data := await upload.file.read(CHUNK):
        yield data
