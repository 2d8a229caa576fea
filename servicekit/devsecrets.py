"""Development secrets for `make run` (JWT secret, PII keys, provider keys): made once into var/
and shared by every process of the machine. Production sets them in the environment."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from .config import var_dir


def read_or_create(name: str, make: Callable[[], str]) -> str:
    """The content of var/<name>, created (mode 0600) by whichever process comes first.

    The file appears whole or not at all: it is written under a temporary name and then linked
    into place, which fails if another process linked theirs first (then theirs is read)."""
    folder = var_dir()
    path = folder / name
    if not path.exists():
        fd, scratch = tempfile.mkstemp(dir=folder, prefix=f".{name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(make())
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(scratch)
    return path.read_text().strip()
