"""What staff input must look like: username, password, roles."""
from __future__ import annotations

import re
from collections.abc import Iterable

from servicekit import roles
from servicekit.errors import Violations

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 128  # argon2 takes any length; a bound keeps a megabyte "password" from costing us
DISPLAY_NAME_MAX = 64


def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_username(v: Violations, username: str, field: str = "username") -> None:
    v.check(bool(USERNAME_PATTERN.match(username)), field, "format",
            "3 to 32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter")


def check_new_password(v: Violations, password: str, field: str = "password") -> None:
    if v.check(len(password) >= PASSWORD_MIN, field, "min_length",
               f"at least {PASSWORD_MIN} characters (got {len(password)})"):
        v.check(len(password) <= PASSWORD_MAX, field, "max_length",
                f"at most {PASSWORD_MAX} characters")


def check_roles(v: Violations, given: Iterable[str], field: str = "roles") -> list[str]:
    """Validates and returns the roles de-duplicated, in the canonical order."""
    given = list(given)
    if not given:
        v.add(field, "required", f"at least one role of: {', '.join(roles.ALL)}")
        return []
    for i, role in enumerate(given):
        v.check(role in roles.ALL, f"{field}[{i}]", "known_role",
                f"unknown role {role!r}; known roles: {', '.join(roles.ALL)}")
    return [r for r in roles.ALL if r in given]


def check_display_name(v: Violations, name: str, field: str = "display_name") -> None:
    v.check(len(name) <= DISPLAY_NAME_MAX, field, "max_length",
            f"at most {DISPLAY_NAME_MAX} characters")
