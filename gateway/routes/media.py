"""Product media files from MALL_MEDIA_ROOT: the local stand-in for a CDN over object storage."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from servicekit.ids import excerpt

from ..problems import Problem
from ..schemas import MediaKey

router = APIRouter(tags=["media"])


_FILE = {"schema": {"type": "string", "format": "binary"}}


# A file, not JSON: response_model=None, the document gives its media types instead.
@router.get("/media/{key:path}", summary="A stored image or video", response_class=FileResponse,
            response_model=None,
            responses={200: {"content": {"image/*": _FILE, "video/*": _FILE}},
                       404: {"description": "No such file"}})
async def get_media(key: MediaKey, request: Request) -> FileResponse:
    missing = Problem(404, "not-found", f"no media file {excerpt(key)}")
    if not key.isprintable():  # a NUL or another control character names no file (and a NUL
        raise missing          # makes the path unusable: ValueError from the file system layer)
    root: Path = request.app.state.settings.media_root.resolve()
    path = (root / key).resolve()
    # Keys come from catalog, but the URL is the client's: never leave the media root.
    if not path.is_relative_to(root) or not path.is_file():
        raise missing
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
