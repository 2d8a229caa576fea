"""The first admin, so a fresh shop can be administered at all.

`make run`'s seed calls the `StaffService.EnsureAdmin` RPC (loopback only, admin metadata); in a
cluster, run `python -m services.member.bootstrap` once (a Job) with MALL_ADMIN_USERNAME and
MALL_ADMIN_PASSWORD set. Either way it is idempotent: when an enabled admin exists nothing
changes and no password is returned.
"""
from __future__ import annotations

from dataclasses import dataclass

from servicekit.config import env
from servicekit.errors import AlreadyExists, FailedPrecondition, Violations
from servicekit.roles import ADMIN
from servicekit.runtime import Runtime

from .identity import passwords, rules
from .identity.staff import enabled_admins, insert_staff
from .models import Staff

DEFAULT_USERNAME = "admin"


@dataclass(frozen=True)
class AdminBootstrap:
    admin: Staff
    created: bool
    generated_password: str = ""  # only when created with a password made up here


def ensure_admin(runtime: Runtime, username: str | None = None,
                 password: str | None = None) -> AdminBootstrap:
    username = rules.normalize_username(username or env("ADMIN_USERNAME", DEFAULT_USERNAME))
    password = password or env("ADMIN_PASSWORD")
    generated = ""
    if not password:
        password = generated = passwords.generate_password()
    v = Violations()
    rules.check_username(v, username, "MALL_ADMIN_USERNAME")
    rules.check_new_password(v, password, "MALL_ADMIN_PASSWORD")
    v.raise_if_any("the first admin's settings are invalid")
    try:
        return _ensure(runtime, username, password, generated)
    except AlreadyExists:  # a concurrent bootstrap created it first: that one is kept
        return _ensure(runtime, username, password, generated)


def _ensure(runtime: Runtime, username: str, password: str, generated: str) -> AdminBootstrap:
    with runtime.transaction() as session:
        admins = sorted(enabled_admins(session), key=lambda s: s.created_at)
        if admins:
            return AdminBootstrap(admins[0], created=False)
        existing = session.query(Staff).filter(Staff.username == username).one_or_none()
        if existing is not None:
            raise FailedPrecondition(
                f"no enabled admin exists and the account {username!r} is not one; "
                "set MALL_ADMIN_USERNAME to a new username")
        admin = insert_staff(session, username, password, [ADMIN], "Administrator")
        return AdminBootstrap(admin, created=True, generated_password=generated)


def main() -> None:
    from servicekit.service import runtime

    result = ensure_admin(runtime("member"))
    if not result.created:
        print(f"admin account {result.admin.username!r} already exists; nothing changed")
    elif result.generated_password:
        print(f"created admin {result.admin.username!r} with password "
              f"{result.generated_password} (shown once)")
    else:
        print(f"created admin {result.admin.username!r} with the password of MALL_ADMIN_PASSWORD")


if __name__ == "__main__":
    main()
