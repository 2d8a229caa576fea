"""What a mainland China shipping address and mobile number must look like (common.v1.Address),
checked the same way wherever one enters the mall: member addresses, checkout, order import."""
from __future__ import annotations

import re

from .errors import Violations

MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")
ADDRESS_LIMITS = {"recipient": 32, "province": 16, "city": 32, "district": 32, "detail": 120}
POSTAL_CODE = re.compile(r"^\d{6}$")
ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "detail", "postal_code")


def normalise_mobile(raw: str) -> str:
    """'+86 138-0013-8000' -> '13800138000'; anything else is returned stripped, to be refused."""
    digits = _SEPARATORS.sub("", raw)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix):]
    return digits


def check_mobile(v: Violations, raw: str, field: str) -> str:
    phone = normalise_mobile(raw)
    v.check(bool(MOBILE.match(phone)), field, "mainland_mobile",
            "a mainland China mobile number: 11 digits starting 13-19, e.g. 13800138000 "
            "(+86, spaces and dashes are accepted)")
    return phone


def check_address(v: Violations, address: dict, field: str = "address") -> dict:
    """Validates an address given as a dict of Address's fields; returns it stripped, phone
    normalised. Every problem is collected in `v`."""
    clean = {k: (address.get(k) or "").strip() for k in ADDRESS_FIELDS}
    for key in ("recipient", "province", "city", "detail"):
        v.check(bool(clean[key]), f"{field}.{key}", "required",
                f"the {key} is required" + (", e.g. 广东省" if key == "province" else ""))
    for key, limit in ADDRESS_LIMITS.items():
        v.check(len(clean[key]) <= limit, f"{field}.{key}", "max_length",
                f"at most {limit} characters")
    clean["phone"] = check_mobile(v, clean["phone"], f"{field}.phone")
    v.check(clean["postal_code"] == "" or bool(POSTAL_CODE.match(clean["postal_code"])),
            f"{field}.postal_code", "format", "empty or 6 digits, e.g. 518000")
    return clean


def checked_address(address, field: str = "shipping_address"):
    """A common.v1.Address message checked (INVALID_ARGUMENT listing every problem) and
    returned cleaned: stripped, phone normalised."""
    v = Violations()
    clean = check_address(v, {k: getattr(address, k) for k in ADDRESS_FIELDS}, field)
    v.raise_if_any("the address is incomplete or malformed")
    return type(address)(**clean)
