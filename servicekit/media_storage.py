"""Where media bytes live (catalog's product media, support's review photos). A service only needs
put/delete and a URL; the local disk implementation serves `make run` and deployments with a
shared volume (the gateway serves `/media/<key>` from the same root, MALL_MEDIA_ROOT). Each
service writes under its own key prefix. An object store would implement the same three methods."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from servicekit.config import env, var_dir


class MediaStorage(Protocol):
    def put(self, key: str, data: bytes | BinaryIO) -> None: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str) -> str: ...


class LocalDiskStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"media key {key!r} escapes the media root")
        return path

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Writes to a temporary file then renames, so a reader never sees half a file."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, (bytes, bytearray)):
                    out.write(data)
                else:
                    data.seek(0)
                    shutil.copyfileobj(data, out, 1024 * 1024)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        if key:
            self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def url(self, key: str) -> str:
        return f"/media/{key}" if key else ""


def default_storage(service: str) -> LocalDiskStorage:
    return LocalDiskStorage(env("MEDIA_ROOT", str(var_dir() / "media"), service))
