"""What staff send and read back, shared by coupon templates and campaigns: names, request
fingerprints and idempotency keys (servicekit.idempotency: a retried create finds what it made the
first time; the same key with a different request is refused), the version an edit was made on,
ids, pages."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.errors import Aborted, FieldViolation, InvalidArgument, Violations
from servicekit.ids import try_int_id

MAX_NAME, MAX_DESCRIPTION = 64, 500
R = TypeVar("R")


def check_name(v: Violations, name: str, description: str, example: str) -> None:
    name = name.strip()
    v.check(bool(name), "spec.name", "required", f"name is required: what shoppers see, e.g. {example}")
    v.check(len(name) <= MAX_NAME, "spec.name", "max_length", f"name has at most {MAX_NAME} characters")
    v.check(len(description) <= MAX_DESCRIPTION, "spec.description", "max_length",
            f"description has at most {MAX_DESCRIPTION} characters")


def check_version(asked: int, current: int, what: str) -> None:
    """An edit names the version it was made on: another edit since makes it ABORTED."""
    if asked <= 0:
        raise InvalidArgument.field("version", "required",
                                    f"give the version the edit was made on (now {current})")
    if asked != current:
        raise Aborted(f"{what} has changed since version {asked} (it is at version {current}): "
                      "read it again and redo the edit",
                      [FieldViolation("version", "stale", f"{what} is at version {current}, "
                                                          f"not {asked}")])


def fingerprint(spec) -> str:
    """A digest of a spec dataclass: the same request gives the same digest."""
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True, default=str).encode()).hexdigest()


def parse_id(raw: str) -> int | None:
    """A BIGINT id from the outside, or None for anything else (a probe, a typo, "٣")."""
    return try_int_id(raw)


def newest_first(session: Session, model, limit: int, after_id: int | None) -> list:
    """A page by descending id (ids grow with creation); `limit + 1` rows tell whether a next page
    exists."""
    query = select(model).order_by(model.id.desc()).limit(limit + 1)
    if after_id is not None:
        query = query.where(model.id < after_id)
    return list(session.scalars(query))


def made_once(session: Session, model, *, created_by: str, key: str, fingerprint: str,
              create: Callable[[], R]) -> tuple[R, bool]:
    """The row `create()` makes, once per (created_by, idempotency key): a retry gets the row the
    key made (model has created_by, idempotency_key and request_fingerprint). True when new."""
    return idempotency.create_once(
        session, key=key, create=create,
        find=lambda: session.scalars(select(model).where(model.created_by == created_by,
                                                         model.idempotency_key == key)).first(),
        same=lambda done: done.request_fingerprint == fingerprint)
