"""What a shopper's personal input must look like: mainland mobiles, addresses, birthdays, sizes."""
from __future__ import annotations

import re
from datetime import date

from servicekit.errors import Violations

MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")
NAME_MAX = 32
ADDRESS_LIMITS = {"recipient": 32, "province": 16, "city": 32, "district": 32, "detail": 120}
POSTAL_CODE = re.compile(r"^\d{6}$")
BRA_BANDS = range(60, 115, 5)
BRA_CUPS = ("AA", "A", "B", "C", "D", "E", "F", "G", "H")
BOTTOMS_SIZES = ("XS", "S", "M", "L", "XL", "XXL", "XXXL")
CONSENT_PURPOSES = ("marketing",)
SOURCE_MAX = 64


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


def check_birthday(v: Violations, raw: str, today: date, field: str = "birthday") -> None:
    try:
        born = date.fromisoformat(raw)
    except ValueError:
        v.add(field, "date", "a date as YYYY-MM-DD, e.g. 1995-04-18")
        return
    v.check(date(1900, 1, 1) <= born <= today, field, "range",
            f"between 1900-01-01 and today ({today.isoformat()})")


def check_sizes(v: Violations, band: int, cup: str, bottoms: str, field: str = "sizes") -> None:
    v.check(band == 0 or band in BRA_BANDS, f"{field}.bra_band", "known_size",
            "0 (unknown) or a band of 60..110 in steps of 5, e.g. 75")
    v.check(cup == "" or cup in BRA_CUPS, f"{field}.bra_cup", "known_size",
            f"empty or one of {' '.join(BRA_CUPS)}")
    v.check(bottoms == "" or bottoms in BOTTOMS_SIZES, f"{field}.bottoms_size", "known_size",
            f"empty or one of {' '.join(BOTTOMS_SIZES)}")


def check_address(v: Violations, address: dict, field: str = "address") -> dict:
    """Validates a common.v1.Address given as a dict; returns it stripped, phone normalised."""
    clean = {k: (address.get(k) or "").strip() for k in
             ("recipient", "phone", "province", "city", "district", "detail", "postal_code")}
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
